"""Live gesture intent: what another program (the viewer's keys, a game controller, a glove) asks for.

Two forms arrive (``devices.lsl_intent`` reads them from ``<prefix>-intent``):

- a **command** string ``"<gesture> [effort]"``: ``"hand_close"`` (effort
  :data:`DEFAULT_EFFORT`), ``"pinch 0.3"``, ``"wrist-flexion 60%"``, ``"rest"``;
- **levels**: a mapping gesture -> effort (one float channel per gesture,
  labelled with the gesture names), e.g. from a data glove; several gestures
  may be non-zero at once (their synergies then combine), all zero is rest.

Both become an effort vector over :data:`realtime.core.anatomy.GESTURES`
(:func:`intent_efforts`); the newest intent replaces the one before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from realtime.body.gestures.schedule import gesture_index, parse_effort
from realtime.core.anatomy import GESTURES

DEFAULT_EFFORT = 0.5
"""Effort of a command that does not give one."""

Intent = str | Mapping[str, float]
"""One intent: a command string or a levels mapping."""


class IntentSource(Protocol):
    """Anything that hands over the intents that arrived since the last call (never blocks)."""

    def poll(self) -> list[Intent]:
        """The intents received since the last call, oldest first."""
        ...


def parse_command(text: str) -> tuple[int, float]:
    """``"<gesture> [effort]"`` -> (gesture index, effort); one-line ValueError naming the command if invalid."""
    where = f"intent {text!r}"
    fields = str(text).replace(",", " ").split()
    if not 1 <= len(fields) <= 2:
        raise ValueError(f"{where}: expected '<gesture> [effort]' (e.g. 'hand_close 0.4'); the gestures are "
                         f"{', '.join(GESTURES)}.")
    index = gesture_index(fields[0], where)
    if index == 0:
        return 0, 0.0
    return index, parse_effort(fields[1], where) if len(fields) == 2 else DEFAULT_EFFORT


def intent_efforts(intent: Intent, out: np.ndarray | None = None) -> np.ndarray:
    """The effort of each gesture (``len(GESTURES)``, rest = 0) that ``intent`` asks for.

    A command sets one gesture; levels set each named gesture (clipped to [0, 1];
    unnamed gestures 0). Raises a one-line ValueError for an unknown gesture or a
    non-finite level.
    """
    efforts = np.zeros(len(GESTURES)) if out is None else out
    efforts[:] = 0.0
    if isinstance(intent, str):
        index, effort = parse_command(intent)
        efforts[index] = effort
    elif isinstance(intent, Mapping):
        for name, value in intent.items():
            index = gesture_index(name, "intent levels")
            level = float(value)
            if not np.isfinite(level):
                raise ValueError(f"intent levels: the level of {name!r} must be finite; {value!r} is invalid.")
            efforts[index] = min(max(level, 0.0), 1.0)
        efforts[0] = 0.0
    else:
        raise TypeError(f"An intent must be a command string or a gesture -> level mapping; {intent!r} is invalid.")
    return efforts
