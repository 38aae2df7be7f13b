"""Busy competing processes for the ``--stress`` condition of ``bench latency``: a busy machine, on purpose.

Each process spins at normal priority (what any program that computes does:
a compile, a browser tab, a training run), so ``N = os.cpu_count()`` of them
keep every core busy and the simulator competes for CPU time as on a loaded
demo laptop. They are started right before a session's IMU is armed and reaped
after the session; each also exits by itself within a fraction of a second
when its parent is gone (a killed benchmark leaves no spinner behind).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from realtime.core.checks import ensure_int
from realtime.core.logs import logger

SPIN = (
    "import os, sys\n"
    "parent = int(sys.argv[1])\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(200000):\n"
    "        pass\n"
)
"""The body of a busy process (argument: the parent's pid): spin, and check about 50 times a second that
the parent is alive (a child whose parent ends is given another one)."""


class ProcessLike(Protocol):
    """What :class:`Stress` needs of a process (``subprocess.Popen``; tests pass a fake)."""

    pid: int

    def poll(self) -> int | None:
        """Exit code, or None while it runs."""

    def kill(self) -> None:
        """Send SIGKILL."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end."""


def spawn_spinner() -> ProcessLike:
    """Start one busy process (this interpreter, :data:`SPIN`), at normal priority, with no I/O."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed program
        [sys.executable, "-c", SPIN, str(os.getpid())], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, close_fds=True,
    )


def default_stress() -> int:
    """The default number of busy processes: one per CPU (``os.cpu_count()``, 1 if unknown)."""
    return os.cpu_count() or 1


class Stress:
    """``n`` busy processes, started by :meth:`start` and reaped by :meth:`stop` (a context manager).

    Parameters
    ----------
    n : int
        How many (0: none; the condition is then "quiet").
    spawn : Callable[[], ProcessLike]
        Starts one busy process (:func:`spawn_spinner`).
    """

    def __init__(self, n: int, spawn: Callable[[], ProcessLike] = spawn_spinner) -> None:
        self.n = ensure_int("stress", n, lo=0)
        self._spawn = spawn
        self._procs: list[ProcessLike] = []
        self.exit_codes: list[int | None] = []

    @property
    def pids(self) -> Sequence[int]:
        """Ids of the busy processes started and not yet reaped."""
        return [p.pid for p in self._procs]

    @property
    def running(self) -> int:
        """How many of them are still running."""
        return sum(p.poll() is None for p in self._procs)

    def start(self) -> Stress:
        """Start the ``n`` processes (a no-op if they run already)."""
        if self._procs:
            return self
        try:
            for _ in range(self.n):
                self._procs.append(self._spawn())
        except BaseException:
            self.stop()
            raise
        if self.n:
            logger.info("Stress: %d busy process(es) started: %s", self.n, self.pids)
        return self

    def stop(self, timeout: float = 10.0) -> list[int | None]:
        """Kill and reap every process; return their exit codes (negative: killed by that signal)."""
        for p in self._procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:  # it ended meanwhile
                    pass
        codes: list[int | None] = []
        for p in self._procs:
            try:
                codes.append(p.wait(timeout))
            except subprocess.TimeoutExpired:
                logger.warning("Stress: busy process %s did not end within %s s after SIGKILL", p.pid, timeout)
                codes.append(None)
        if self._procs:
            logger.info("Stress: %d busy process(es) reaped", len(self._procs))
        self._procs = []
        self.exit_codes = codes
        return codes

    def __enter__(self) -> Stress:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
