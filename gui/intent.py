"""The viewer's gesture keys: intent sent back to the simulator over LSL.

With a myostream prefix the viewer publishes ``<prefix>-intent`` (a string
marker stream, :func:`realtime.core.schemas.intent_stream_spec`) and maps keys
to commands the simulator's gesture layer listens for (``run --gestures``):

=========  =====================================================
key        command
=========  =====================================================
1 … 8      the gestures of ``GESTURES[1:]`` (hand close … supination), held until another key
0, Esc     rest
+ / −      effort up / down by 10 % (10-100 %), re-sent with the held gesture
=========  =====================================================

The simulator never depends on the viewer: without a listener the commands
go nowhere; a simulator started without ``--gestures`` ignores them.
"""

from __future__ import annotations

import pylsl
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from realtime.core.anatomy import GESTURES
from realtime.core.logs import logger
from realtime.core.schemas import intent_stream_spec

EFFORT_STEP = 0.1
"""Change of the effort per +/- key press."""

KEY_GESTURES: dict[str, str] = {str(k): GESTURES[k] for k in range(1, len(GESTURES))}
"""Key text -> gesture (``"0"`` and Esc are rest)."""


def intent_outlet(prefix: str) -> pylsl.StreamOutlet:
    """An outlet for ``<prefix>-intent`` as the schema declares it."""
    spec = intent_stream_spec(prefix, "viewer")
    info = pylsl.StreamInfo(spec.name, spec.type, len(spec.channels), spec.fs, pylsl.cf_string, spec.source_id)
    channels = info.desc().append_child("channels")
    for c in spec.channels:
        channels.append_child("channel").append_child_value("label", c.label).append_child_value("type", c.type)
    return pylsl.StreamOutlet(info)


class GestureKeys(QtCore.QObject):
    """Key shortcuts on ``window`` that send gesture commands on ``<prefix>-intent``.

    Parameters
    ----------
    window : QtWidgets.QWidget
        The window the shortcuts live on.
    prefix : str
        The simulator's stream-name prefix.
    effort : float
        Initial effort (0.1 to 1).
    """

    def __init__(self, window: QtWidgets.QWidget, prefix: str, effort: float = 0.5) -> None:
        super().__init__(window)
        self.outlet = intent_outlet(prefix)
        self.gesture = GESTURES[0]
        self.effort = min(max(float(effort), EFFORT_STEP), 1.0)
        self.sent: list[str] = []
        """Every command sent, in order."""
        self.label = QtWidgets.QLabel()
        self.label.setToolTip("Gesture intent sent to the simulator (run --gestures): keys 1-8, 0 = rest, +/- effort")
        self._shortcuts = []
        for key, gesture in KEY_GESTURES.items():
            self._bind(key, lambda g=gesture: self.send(g))
        for key in ("0", "Esc"):
            self._bind(key, lambda: self.send(GESTURES[0]))
        for key in ("+", "="):
            self._bind(key, lambda: self.change_effort(+EFFORT_STEP))
        self._bind("-", lambda: self.change_effort(-EFFORT_STEP))
        self._show()

    def _bind(self, key: str, slot: object) -> None:
        shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self.parent())
        shortcut.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(slot)
        self._shortcuts.append(shortcut)

    def command(self) -> str:
        """The command for the held gesture and effort (``"rest"`` or ``"<gesture> <effort>"``)."""
        return GESTURES[0] if self.gesture == GESTURES[0] else f"{self.gesture} {self.effort:.2f}"

    def send(self, gesture: str) -> None:
        """Hold ``gesture`` (at the current effort) and send it."""
        self.gesture = gesture
        self._push()

    def change_effort(self, delta: float) -> None:
        """Change the effort by ``delta`` (kept within 10-100 %) and re-send the held gesture."""
        self.effort = round(min(max(self.effort + delta, EFFORT_STEP), 1.0), 2)
        if self.gesture != GESTURES[0]:
            self._push()
        else:
            self._show()

    def _push(self) -> None:
        text = self.command()
        self.outlet.push_sample([text])
        self.sent.append(text)
        logger.info("Viewer: intent %r", text)
        self._show()

    def _show(self) -> None:
        name = self.gesture.replace("_", " ")
        self.label.setText(f" Gesture: {name}" + ("" if self.gesture == GESTURES[0] else f" {self.effort:.0%}")
                           + "  (keys 1-8, 0 rest, +/-) ")

    def close(self) -> None:
        """Remove the outlet."""
        self.outlet = None


__all__ = ["EFFORT_STEP", "KEY_GESTURES", "GestureKeys", "intent_outlet"]
