"""Ctrl-C (SIGINT) and SIGTERM close the viewer cleanly.

Python runs a signal handler only between bytecodes of the main thread. While
Qt's event loop waits in C++, nothing runs, and the default SIGINT handler
raises ``KeyboardInterrupt`` inside whatever Python code Qt calls next (the
presenter tick, or a pyqtgraph ``boundingRect`` override, whose traceback Qt
prints and ignores): the window stays open. :class:`SignalQuit` replaces the
handlers: before the event loop exists a signal raises ``KeyboardInterrupt``
(the start-up code catches it); afterwards it asks the application to quit, and
a light timer makes sure Python gets control a few times a second.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

POLL_MS = 200
"""How often Python gets control while Qt waits, so a signal is handled within this time."""


class SignalQuit:
    """Handle SIGINT and SIGTERM for a Qt application (use as a context manager).

    Parameters
    ----------
    signals : tuple of int
        The signals to handle (default SIGINT and SIGTERM).

    Attributes
    ----------
    received : list of int
        The signals received, in order.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.received: list[int] = []
        self._app: Any = None
        self._qtcore: Any = None
        self._timer: Any = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalQuit:
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def attach(self, app: Any) -> None:
        """From now on a signal quits ``app`` (a ``QCoreApplication``) instead of raising."""
        from pyqtgraph.Qt import QtCore  # deferred: Qt loads only once the viewer starts

        self._app = app
        self._qtcore = QtCore
        self._timer = QtCore.QTimer(app)
        self._timer.timeout.connect(_python_gets_control)
        self._timer.start(POLL_MS)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self._app is None:
            raise KeyboardInterrupt
        # queued: it also works when the signal comes before the event loop has started
        self._qtcore.QTimer.singleShot(0, self._app.quit)

    @property
    def interrupted(self) -> bool:
        """Whether SIGINT (Ctrl-C) was received."""
        return signal.SIGINT in self.received


def _python_gets_control() -> None:
    """Nothing: the timer's only job is to run Python bytecode, so pending signal handlers run."""


__all__ = ["POLL_MS", "SignalQuit"]
