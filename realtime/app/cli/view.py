"""``launch.py view`` and ``launch.py bench viewer``, plus a helper to start the viewer process.

This module is imported for every CLI command, so Qt, pyqtgraph and pylsl are
imported inside the command functions only.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from realtime.core.logs import logger

_LAUNCH = Path(__file__).resolve().parents[3] / "launch.py"


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
    """The argv that runs ``python launch.py view`` with ``opts`` (``window=4`` -> ``--window 4``).

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
    argv = [sys.executable, str(_LAUNCH), "view"]
    if prefix is not None:
        argv += ["--prefix", str(prefix)]
    for key, value in opts.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


READY_LINE = "viewer: drawing"
"""What ``launch.py view`` prints on stdout (followed by the EMG stream's name) once it is drawing."""


def _drain_and_close(stream: Any) -> None:
    with stream:
        for _ in stream:
            pass


def start_viewer_process(
    prefix: str, wait_drawing: float | None = None, **opts: Any
) -> subprocess.Popen:
    """Start ``python launch.py view --prefix PREFIX`` as a separate process.

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
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(
            f"The argument 'prefix' must be a non-empty string. {prefix!r} is invalid."
        )
    argv = viewer_command(prefix, **opts)
    if wait_drawing is None:
        return subprocess.Popen(argv)  # noqa: S603 - our own interpreter and script
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603
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


@click.command("view")
@click.option(
    "--stream",
    default=None,
    help="Name of the stream to draw as EMG (default: <prefix>-EMG, else any EMG stream).",
)
@click.option(
    "--prefix", default=None, help="Stream-name prefix of the simulator (default: myostream)."
)
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for the stream.",
)
@click.option(
    "--window",
    default=4.0,
    show_default=True,
    type=click.FloatRange(1.0, 10.0),
    help="Time window of the traces (s).",
)
@click.option(
    "--fps",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1.0, 120.0),
    help="Refresh rate (Hz).",
)
@click.option(
    "--screenshot",
    "screenshot",
    default=None,
    type=click.Path(dir_okay=False),
    help="Save a PNG of the window to PATH, then quit.",
)
@click.option(
    "--screenshot-after",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.0),
    help="Seconds to run before --screenshot.",
)
@click.option(
    "--nice",
    default=10,
    show_default=True,
    type=click.IntRange(0, 19),
    help="Lower the viewer's CPU priority by this much so the producer keeps its timing (0: unchanged).",
)
def view(
    stream: str | None,
    prefix: str | None,
    timeout: float,
    window: float,
    fps: float,
    screenshot: str | None,
    screenshot_after: float,
    nice: int,
) -> None:
    """Live viewer: EMG traces, RMS map, activations, IMU and stream health from LSL."""
    if screenshot is not None and not screenshot.lower().endswith(".png"):
        raise click.BadParameter(
            f"must end in .png, {screenshot!r} is invalid.", param_hint="--screenshot"
        )
    # first: threads inherit the scheduling class and nice value of the thread that creates
    # them, so liblsl's threads (started by the first resolve) must not be created before
    lower_priority(nice)
    from gui.streams import NoStreamError, discover

    try:
        found = discover(prefix=prefix, stream=stream, timeout=timeout)
    except NoStreamError as err:
        raise click.ClickException(str(err)) from None

    from pyqtgraph.Qt import QtCore

    from gui.viewer import Viewer, ViewerOptions, make_app

    app = make_app()
    try:
        win = Viewer(found, ViewerOptions(window_s=window, fps=fps))
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    win.show()
    # One line once the event loop runs with every inlet open: scripts (bench viewer) wait for it.
    QtCore.QTimer.singleShot(0, lambda: click.echo(f"{READY_LINE} {found.emg.name()}", nl=True))
    if screenshot is not None:

        def _shoot() -> None:
            path = win.screenshot(screenshot)
            click.echo(f"screenshot saved: {path}")
            win.close()
            app.quit()

        QtCore.QTimer.singleShot(int(screenshot_after * 1000), _shoot)
    app.exec()


@click.command("viewer")
@click.option(
    "--json",
    "json_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the results here.",
)
@click.option(
    "--seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="Rendering time per configuration.",
)
@click.option(
    "--phase-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=2.0),
    help="Counted window per late-tick condition in each simulator run.",
)
@click.option(
    "--channels",
    "channels",
    multiple=True,
    type=int,
    default=(8, 64),
    show_default=True,
    help="Channel counts to run.",
)
@click.option(
    "--screenshot-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Also save one PNG per configuration here.",
)
@click.option(
    "--repeats",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Simulator runs per channel count, each counting the conditions (alone, bare inlet, viewer) in rotating order.",
)
@click.option(
    "--pinned",
    is_flag=True,
    help="Also measure the viewer pinned to the last CPU (a fourth condition).",
)
def bench_viewer(
    json_path: str,
    seconds: float,
    phase_seconds: float,
    channels: tuple[int, ...],
    screenshot_dir: str | None,
    repeats: int,
    pinned: bool,
) -> None:
    """Viewer frame rate (offscreen, 4 s window, 2 kHz) and its effect on the simulator's late ticks."""
    from realtime.app.bench.viewer import run_benchmark

    result = run_benchmark(
        json_path,
        channels=channels,
        seconds=seconds,
        phase_seconds=phase_seconds,
        screenshot_dir=screenshot_dir,
        repeats=repeats,
        pinned=pinned,
    )
    for r in result["runs"]:
        late = r["late_ticks_delta"]
        if late is None:
            late_txt = "n/a"
        else:
            med = r["late_ticks_median"]
            p = r["late_ticks_p_one_sided"]
            late_txt = (
                f"{late:+g} (medians alone {med['none']:g}, inlet {med['inlet']:g}, "
                f"viewer {med['viewer']:g}; one-sided p = {'n/a' if p is None else f'{p:.3g}'}, "
                f"raises: {r['viewer_raises_late_ticks']})"
            )
        cpu = r.get("viewer_cpu_percent")
        cpu_txt = "" if cpu is None else f", viewer CPU {cpu:.0f} %"
        click.echo(
            f"{r['channels']:3d} ch  {r['window_s']:g} s  {r['fs']:g} Hz: {r['fps']:.1f} fps, "
            f"late ticks delta {late_txt}{cpu_txt}"
        )
        pin = r.get("pinned_viewer")
        if pin is not None:
            click.echo(
                f"      pinned viewer: median {pin['median']:g} ({pin['delta_vs_unpinned']:+g} vs unpinned, "
                f"p = {pin['p_one_sided_pinning_helps']})"
            )
    click.echo(f"wrote {json_path}")
