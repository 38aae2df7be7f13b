"""Start-up progress: one line per phase with its elapsed time, so a slow first start is not silence.

A phase is written when it begins (``"myostream: compiling the kernels ... "``,
flushed) and completed on the same line when it ends (``"11.3 s"``, or
``"failed after 2.0 s"``), so a reader sees what is happening while it
happens and gets one line per phase in the end. :class:`Progress` with no
``write`` is silent: library code reports phases unconditionally and the
caller (``launch.py run``) decides whether they are shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Phase:
    """A running phase; set :attr:`outcome` to say how it ended (e.g. ``"built"``, ``"from the cache"``)."""

    def __init__(self) -> None:
        self.outcome = ""


class Progress:
    """Report start-up phases to ``write`` (e.g. ``sys.stderr.write``), each with its elapsed time.

    Parameters
    ----------
    write : Callable[[str], object] | None
        Receives the text (partial lines; ``flush`` is called after each
        piece when the callable's owner has one). ``None``: silent.
    flush : Callable[[], object] | None
        Called after each piece of text (e.g. ``sys.stderr.flush``).
    prefix : str
        Put before each phase line.
    clock : Callable[[], float]
        Seconds (``time.perf_counter``).
    """

    def __init__(self, write: Callable[[str], object] | None = None, flush: Callable[[], object] | None = None,
                 prefix: str = "myostream: ", clock: Callable[[], float] = time.perf_counter) -> None:
        self._write = write
        self._flush = flush
        self.prefix = prefix
        self._clock = clock
        self.durations: dict[str, float] = {}
        """Seconds per phase text, for the caller (and tests)."""

    def _emit(self, text: str) -> None:
        if self._write is not None:
            self._write(text)
            if self._flush is not None:
                self._flush()

    @contextmanager
    def phase(self, text: str) -> Iterator[Phase]:
        """A phase: ``text`` now, the elapsed time when the ``with`` block ends (or fails).

        Parameters
        ----------
        text : str
            What is being done, e.g. ``"building the MUAP tables for armband8"``.
        """
        handle = Phase()
        self._emit(f"{self.prefix}{text} ... ")
        t0 = self._clock()
        try:
            yield handle
        except BaseException:
            self._emit(f"failed after {self._clock() - t0:.1f} s\n")
            raise
        elapsed = self._clock() - t0
        self.durations[text] = elapsed
        self._emit(f"{handle.outcome + ' in ' if handle.outcome else ''}{elapsed:.1f} s\n")

    def say(self, text: str) -> None:
        """One complete line (no timing), e.g. a note between phases."""
        self._emit(f"{self.prefix}{text}\n")


SILENT = Progress()
"""A :class:`Progress` that writes nothing (the default of library calls)."""
