"""Hand and wrist gestures: synergies, scripted schedules and protocols, live intent, and the synthesizer.

- :data:`SYNERGIES` — each gesture of :data:`realtime.core.anatomy.GESTURES` as muscle activations, with
  sources; :func:`engine_synergies` — the same on the engine's muscles.
- :func:`load_gestures` — the ``--gestures`` option: a schedule file, ``protocol[:...]`` or ``live``.
- :class:`GestureSynthesizer` — intent to activations and ground truth on the EMG clock.

See ``docs/gestures.md``.
"""

from __future__ import annotations

from realtime.body.gestures.intent import (
    DEFAULT_EFFORT,
    Intent,
    IntentSource,
    intent_efforts,
    parse_command,
)
from realtime.body.gestures.schedule import (
    GestureCommand,
    gesture_index,
    load_gestures,
    load_schedule,
    parse_effort,
    parse_schedule,
    protocol,
    schedule_end,
)
from realtime.body.gestures.synergies import (
    ENGINE_GROUPS,
    FOREARM_MUSCLES,
    MAX_FORCE_N,
    SYNERGIES,
    Synergy,
    engine_synergies,
    group_matrix,
)
from realtime.body.gestures.synthesizer import GestureSettings, GestureSynthesizer

__all__ = [
    "DEFAULT_EFFORT",
    "ENGINE_GROUPS",
    "FOREARM_MUSCLES",
    "MAX_FORCE_N",
    "SYNERGIES",
    "GestureCommand",
    "GestureSettings",
    "GestureSynthesizer",
    "Intent",
    "IntentSource",
    "Synergy",
    "engine_synergies",
    "gesture_index",
    "group_matrix",
    "intent_efforts",
    "load_gestures",
    "load_schedule",
    "parse_command",
    "parse_effort",
    "parse_schedule",
    "protocol",
    "schedule_end",
]
