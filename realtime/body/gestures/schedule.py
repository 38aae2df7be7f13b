"""Scripted gestures: schedule files and built-in protocols.

A schedule is a list of :class:`GestureCommand` (onset, duration, gesture,
effort), one gesture at a time; between commands the hand rests. A schedule
file is plain text, one command per line, fields separated by spaces or
commas, ``#`` starts a comment::

    # onset_s  duration_s  gesture        effort
    2          5           hand_close     50%
    10         5           wrist_flexion  0.3

Effort is a fraction of a maximal gesture, ``0.3`` or ``30%`` (within (0, 1];
published protocols use 10-80 %). A bad line is one error naming the file
and the line. :func:`protocol` builds the usual training protocol instead
(Ninapro, Atzori et al. 2014, Sci Data 1:140053: each movement repeated for
5 s with 3 s of rest in between), and :func:`load_gestures` reads either a
file or a ``protocol:key=value,...`` spec (the ``--gestures`` option).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from realtime.core.anatomy import GESTURES

PROTOCOL_DEFAULTS: dict[str, object] = {
    "reps": 5, "hold": 5.0, "rest": 3.0, "effort": 0.5, "start": 3.0, "order": "grouped",
    "gestures": tuple(g for g in GESTURES if g != "rest"),
}
"""Parameters of :func:`protocol` and their defaults (``order``: ``grouped`` = each gesture's repetitions
in a row, as Ninapro; ``interleaved`` = one of each gesture per round)."""


def gesture_index(name: str, where: str = "gesture") -> int:
    """Index of gesture ``name`` in :data:`GESTURES` (``-`` accepted for ``_``, any case); one-line error if unknown."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in GESTURES:
        raise ValueError(f"{where}: unknown gesture {name!r}; the gestures are {', '.join(GESTURES)}.")
    return GESTURES.index(key)


def parse_effort(text: str | float, where: str = "effort") -> float:
    """An effort in (0, 1] from ``0.4``, ``40%`` or a number; one-line error otherwise."""
    raw = text.strip() if isinstance(text, str) else text
    try:
        value = float(raw[:-1]) / 100.0 if isinstance(raw, str) and raw.endswith("%") else float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"{where}: the effort must be a fraction within (0, 1] or a percentage (e.g. 0.4 or 40%); "
                         f"{text!r} is invalid.")
    return value


@dataclass(frozen=True)
class GestureCommand:
    """One scripted gesture.

    Parameters
    ----------
    onset : float
        Seconds after the run start.
    duration : float
        Seconds the gesture is held (the commanded intent; the muscles follow with their own dynamics).
    gesture : str
        One of :data:`realtime.core.anatomy.GESTURES`.
    effort : float
        Fraction of a maximal gesture, within (0, 1].
    """

    onset: float
    duration: float
    gesture: str
    effort: float

    def __post_init__(self) -> None:
        if not (isinstance(self.onset, (int, float)) and math.isfinite(self.onset) and self.onset >= 0):
            raise ValueError(f"The onset must be a time >= 0 in seconds; {self.onset!r} is invalid.")
        if not (isinstance(self.duration, (int, float)) and math.isfinite(self.duration) and self.duration > 0):
            raise ValueError(f"The duration must be a time > 0 in seconds; {self.duration!r} is invalid.")
        object.__setattr__(self, "gesture", GESTURES[gesture_index(self.gesture)])
        object.__setattr__(self, "effort", parse_effort(self.effort))

    @property
    def end(self) -> float:
        """Seconds after the run start at which the gesture is released."""
        return self.onset + self.duration


def check_schedule(commands: Sequence[GestureCommand], where: Sequence[str] | None = None) -> tuple[GestureCommand, ...]:
    """Sort ``commands`` by onset and refuse overlaps (one gesture at a time), naming both entries."""
    names = list(where) if where is not None else [f"command {i + 1}" for i in range(len(commands))]
    order = sorted(range(len(commands)), key=lambda i: commands[i].onset)
    for a, b in zip(order, order[1:]):
        if commands[b].onset < commands[a].end - 1e-9:
            raise ValueError(
                f"{names[b]}: starts at {commands[b].onset:g} s, before the gesture of {names[a]} ends "
                f"({commands[a].end:g} s); a schedule holds one gesture at a time."
            )
    return tuple(commands[i] for i in order)


_SPLIT = re.compile(r"[\s,]+")


def parse_schedule(text: str, source: str = "<schedule>") -> tuple[GestureCommand, ...]:
    """Parse schedule text (see the module docstring); errors read ``<source>:<line>: <why>``."""
    commands, where = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        here = f"{source}:{number}"
        fields = [f for f in _SPLIT.split(line) if f]
        if len(fields) != 4:
            raise ValueError(f"{here}: expected 4 fields 'onset duration gesture effort' (e.g. '2 5 hand_close 50%'), "
                             f"got {len(fields)}: {line!r}.")
        onset_text, duration_text, gesture, effort_text = fields
        try:
            onset, duration = float(onset_text), float(duration_text)
        except ValueError:
            raise ValueError(f"{here}: onset and duration must be numbers of seconds; {line!r} is invalid.") from None
        try:
            commands.append(GestureCommand(onset, duration, GESTURES[gesture_index(gesture, here)],
                                           parse_effort(effort_text, here)))
        except ValueError as err:
            message = str(err)
            raise ValueError(message if message.startswith(here) else f"{here}: {message}") from None
        where.append(here)
    return check_schedule(commands, where)


def load_schedule(path: str | Path) -> tuple[GestureCommand, ...]:
    """Read a schedule file (any extension; see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The gesture schedule {str(path)!r} does not exist.")
    return parse_schedule(path.read_text(encoding="utf-8"), str(path))


def protocol(
    reps: int = 5,
    hold: float = 5.0,
    rest: float = 3.0,
    effort: float = 0.5,
    start: float = 3.0,
    gestures: Sequence[str] | None = None,
    order: str = "grouped",
) -> tuple[GestureCommand, ...]:
    """The training protocol: every gesture ``reps`` times for ``hold`` s, ``rest`` s of rest in between.

    Parameters
    ----------
    reps : int
        Repetitions of each gesture (Ninapro: 6; libemg's examples: 3-5).
    hold, rest : float
        Seconds of gesture and of rest after each repetition.
    effort : float
        Commanded effort of every repetition, (0, 1].
    start : float
        Seconds of rest before the first gesture.
    gestures : sequence of str | None
        The gestures (default: every gesture but rest).
    order : {"grouped", "interleaved"}
        ``grouped``: the repetitions of a gesture in a row; ``interleaved``: one of each gesture per round.
    """
    if not (isinstance(reps, int) and not isinstance(reps, bool) and 1 <= reps <= 1000):
        raise ValueError(f"The protocol's 'reps' must be an integer within [1, 1000]; {reps!r} is invalid.")
    for name, value, low in (("hold", hold, 0.0), ("rest", rest, 0.0), ("start", start, -1e-12)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > low):
            rule = ">= 0" if name == "start" else "> 0"
            raise ValueError(f"The protocol's {name!r} must be a time {rule} in seconds; {value!r} is invalid.")
    if order not in ("grouped", "interleaved"):
        raise ValueError(f"The protocol's 'order' must be grouped or interleaved; {order!r} is invalid.")
    names = [GESTURES[gesture_index(g, "protocol")] for g in (gestures or PROTOCOL_DEFAULTS["gestures"])]
    if not names:
        raise ValueError("The protocol needs at least one gesture.")
    sequence = ([g for g in names for _ in range(reps)] if order == "grouped"
                else [g for _ in range(reps) for g in names])
    period = float(hold) + float(rest)
    return tuple(GestureCommand(float(start) + k * period, float(hold), g, effort) for k, g in enumerate(sequence))


def _number(text: str, kind: type, rule: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(rule) from None


def parse_protocol(spec: str) -> tuple[GestureCommand, ...]:
    """Build :func:`protocol` from ``protocol[:key=value,...]`` (gestures joined by ``+``)."""
    _, _, params = spec.partition(":")
    kwargs: dict[str, object] = {}
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in PROTOCOL_DEFAULTS:
            raise ValueError(f"--gestures {spec!r}: {item!r} is invalid; protocol parameters are "
                             f"{', '.join(f'{k}=...' for k in PROTOCOL_DEFAULTS)} (e.g. protocol:reps=3,hold=5).")
        value = value.strip()
        try:
            if key == "reps":
                kwargs[key] = _number(value, int, "an integer within [1, 1000]")
            elif key in ("hold", "rest", "start"):
                kwargs[key] = _number(value, float, "a number of seconds")
            elif key == "effort":
                kwargs[key] = parse_effort(value, f"--gestures {spec!r}")
            elif key == "gestures":
                kwargs[key] = tuple(v for v in value.split("+") if v)
            else:
                kwargs[key] = value
        except ValueError as err:
            message = str(err)
            raise ValueError(message if message.startswith("--gestures") else
                             f"--gestures {spec!r}: {key}={value!r} is invalid ({message}).") from None
    try:
        return protocol(**kwargs)
    except ValueError as err:
        raise ValueError(f"--gestures {spec!r}: {err}") from None


def load_gestures(spec: str) -> tuple[GestureCommand, ...]:
    """The ``--gestures`` option: ``live`` (none scripted), ``protocol[:k=v,...]`` or a schedule file."""
    text = str(spec).strip()
    if text == "live":
        return ()
    if text == "protocol" or text.startswith("protocol:"):
        return parse_protocol(text)
    return load_schedule(text)


def schedule_end(commands: Sequence[GestureCommand]) -> float:
    """Seconds after the run start at which the last scripted gesture ends (0 without any)."""
    return max((c.end for c in commands), default=0.0)
