"""Names shared by every part of the pipeline: joints and muscles of the simulated forearm.

Sign conventions (radians):

- ``elbow_flexion``: 0 with the elbow straight, positive when flexing (≈ 2.4 rad fully flexed).
- ``forearm_pronation``: 0 in the neutral position (thumb up), positive toward
  pronation (palm down), negative toward supination (palm up).
- ``wrist_flexion``: 0 with the hand in line with the forearm, positive toward
  flexion (palm side), negative toward extension.
"""

from __future__ import annotations

JOINTS: tuple[str, ...] = ("elbow_flexion", "forearm_pronation", "wrist_flexion")

JOINT_LIMITS: tuple[tuple[float, float], ...] = ((0.0, 2.4), (-1.4, 1.4), (-1.2, 1.3))
"""Range of motion (rad) of :data:`JOINTS`: elbow flexion, pronation, wrist flexion."""

MUSCLES: tuple[str, ...] = (
    "biceps",
    "brachialis",
    "brachioradialis",
    "triceps",
    "pronator_teres",
    "supinator",
    "wrist_flexors",
    "wrist_extensors",
)

GESTURES: tuple[str, ...] = (
    "rest",
    "hand_close",
    "hand_open",
    "pinch",
    "point",
    "wrist_flexion",
    "wrist_extension",
    "pronation",
    "supination",
)
"""The hand and wrist gestures of the gesture layer (``realtime.body.gestures``; docs/gestures.md).

Their index in this tuple is the class number of ``<prefix>-gesture`` (0 = rest);
names are also accepted with ``-`` for ``_`` (``hand-close``).
"""
