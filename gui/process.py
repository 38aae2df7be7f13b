"""The viewer's process: how it is started, how it announces that it draws, how it yields the CPU.

The viewer is an LSL consumer in its own process (the ``view`` command), so it
can never stall the producer. :func:`start_viewer_process` starts it (for
``run --view`` and ``bench viewer``) and can wait for :data:`READY_LINE`;
:func:`lower_priority` is what the viewer calls first so that, when CPUs are
scarce, the simulator's ticks win over a frame.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from typing import Any

from realtime.core.checks import check_name
from realtime.core.launcher import cli_command, cli_environment
from realtime.core.logs import logger


def _thread_ids() -> list[int]:
    """Ids of every thread of this process (Linux ``/proc``), or ``[0]`` (the calling thread)."""
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def lower_priority(amount: int) -> None:
    """Make this process ``amount`` nicer (POSIX ``nice``), so a producer on the same CPUs wins.

    The viewer is a consumer: when CPUs are scarce, the simulator's 2 ms ticks
    matter more than a frame. On Linux the process also moves to the idle
    scheduling class. On Linux both are per thread: every thread that exists
    now is changed (e.g. a BLAS worker started by ``import numpy``), and threads
    started later inherit the setting, so call this before opening LSL streams.
    Does nothing where ``os.nice`` does not exist.
    """
    if amount <= 0 or not hasattr(os, "nice"):
        return
    tids = _thread_ids()
    base = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else None
    for tid in tids:
        try:
            if tid == 0 or base is None or not hasattr(os, "setpriority"):
                os.nice(amount)
            else:
                os.setpriority(os.PRIO_PROCESS, tid, min(base + amount, 19))
        except OSError as err:  # e.g. a restricted container, or the thread ended
            logger.warning("viewer: cannot lower the CPU priority of thread %s (%s)", tid, err)
        # Linux: SCHED_IDLE runs the viewer only on CPU time nobody else wants, and a waking
        # producer thread preempts it at once (nice alone still lets it delay a 1-2 ms tick).
        if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
            try:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            except OSError as err:
                logger.warning(
                    "viewer: cannot switch thread %s to the idle scheduling class (%s)", tid, err
                )


def viewer_command(prefix: str | None = None, **opts: Any) -> list[str]:
    """The argv that runs the ``view`` command with ``opts`` (``window=4`` -> ``--window 4``); see
    :func:`realtime.core.launcher.cli_command`.

    Parameters
    ----------
    prefix : str | None
        Stream-name prefix (``--prefix``).
    **opts
        Other options of ``view`` by their Python name (``stream``, ``timeout``,
        ``window``, ``screenshot``, ``screenshot_after``, ``fps``, ``nice``). ``None`` values
        are skipped.
    """
    allowed = {"stream", "timeout", "window", "screenshot", "screenshot_after", "fps", "nice"}
    unknown = set(opts) - allowed
    if unknown:
        raise TypeError(
            f"Unknown viewer option(s) {sorted(unknown)}; the options are {sorted(allowed)}."
        )
    argv = cli_command("view")
    if prefix is not None:
        argv += ["--prefix", str(prefix)]
    for key, value in opts.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


READY_LINE = "viewer: drawing"
"""What the ``view`` command prints on stdout (followed by the EMG stream's name) once it is drawing."""


def _drain_and_close(stream: Any) -> None:
    with stream:
        for _ in stream:
            pass


def start_viewer_process(
    prefix: str, wait_drawing: float | None = None, **opts: Any
) -> subprocess.Popen:
    """Start the viewer (the ``view`` command with ``--prefix PREFIX``) as a separate process.

    The viewer is an LSL consumer in its own process, so it can never stall the
    producer. The caller owns the returned process (``terminate()`` it when done).

    Parameters
    ----------
    prefix : str
        The simulator's stream-name prefix.
    wait_drawing : float | None
        If given, return only once the viewer printed :data:`READY_LINE` (its
        start-up, a few seconds, is over and it draws), waiting at most this many
        seconds; the viewer's stdout is then a pipe.
    **opts
        Other ``view`` options (see :func:`viewer_command`), e.g. ``timeout=10``.

    Returns
    -------
    subprocess.Popen

    Raises
    ------
    RuntimeError
        ``wait_drawing`` passed (or the viewer exited) without the line; the process is stopped.
    """
    check_name("prefix", prefix)
    argv = viewer_command(prefix, **opts)
    # Its own process group: a Ctrl-C in the terminal goes to the caller only, which then
    # ends the viewer with terminate() (SIGTERM), even while the viewer is still importing.
    if wait_drawing is None:
        return subprocess.Popen(argv, env=cli_environment(), process_group=0)  # noqa: S603 - our own CLI
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=cli_environment(),  # noqa: S603
                            process_group=0)
    deadline = time.monotonic() + wait_drawing
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(deadline - time.monotonic(), 0.0))
        line = proc.stdout.readline() if ready else ""
        if line.startswith(READY_LINE):
            # Keep reading (and finally close) the pipe, so the viewer can always print.
            threading.Thread(target=_drain_and_close, args=(proc.stdout,), daemon=True).start()
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    proc.wait(timeout=5.0)
    proc.stdout.close()
    raise RuntimeError(
        f"The viewer did not start drawing {prefix}-EMG within {wait_drawing} s "
        f"(exit code {proc.returncode})."
    )
