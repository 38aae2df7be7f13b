"""Fault descriptions and fault files (JSON or TOML).

A fault is ``{onset, duration, channels, kind, params}``: it starts ``onset``
seconds after the run starts (sample ``round(onset * fs)``), lasts
``duration`` seconds (``round(duration * fs)`` samples; omitted = until the
end of the run) and affects ``channels`` (labels, or ``"all"``). See
``docs/faults.md`` for the kinds, their parameters and the file format.
"""

from __future__ import annotations

import json
import math
import numbers
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.core.checks import check_choice, check_optional_number

FAULT_KINDS: tuple[str, ...] = ("dropout", "liftoff", "clipping", "sample_loss", "gain", "crosstalk")
"""Every fault kind, in the order they are applied when several overlap."""

FAULT_PARAMS: Mapping[str, Mapping[str, Any]] = {
    "dropout": {"value": 0.0},
    "liftoff": {"swing_uv": 2000.0, "swing_s": 0.5, "swing_hz": 1.5, "rail_uv": 5000.0},
    "clipping": {"range_uv": 100.0},
    "sample_loss": {"loss": 0.3, "burst_ms": 20.0},
    "gain": {"factor": 0.5},
    "crosstalk": {"amount": 0.5, "from": None},
}
"""Parameters of each kind with their defaults (``None``: derived, see the docs)."""

_RULES: Mapping[str, tuple[float, float, bool, str]] = {
    # name: (low, high, low inclusive, description)
    "value": (-math.inf, math.inf, True, "a finite level in µV"),
    "swing_uv": (0.0, math.inf, True, "an amplitude in µV >= 0"),
    "swing_s": (0.0, math.inf, True, "a time in s >= 0"),
    "swing_hz": (0.0, 20.0, False, "a frequency in Hz within (0, 20]"),
    "rail_uv": (0.0, math.inf, False, "a saturation level in µV > 0"),
    "range_uv": (0.0, math.inf, False, "a clipping range in µV > 0"),
    "loss": (0.0, 1.0, False, "a fraction within (0, 1]"),
    "burst_ms": (0.0, 10_000.0, False, "a mean burst length in ms within (0, 10000]"),
    "factor": (-math.inf, math.inf, True, "a finite gain"),
    "amount": (0.0, 10.0, True, "a mixing weight within [0, 10]"),
}

_ENTRY_KEYS = ("onset", "duration", "channels", "kind", "params")


def _is_number(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_param(kind: str, name: str, value: object) -> object:
    if name == "from":
        if value is None:
            return None
        labels = (value,) if isinstance(value, str) else value
        rule = "a channel label or a list of labels"
        if not (isinstance(labels, Sequence) and all(isinstance(v, str) for v in labels)):
            raise TypeError(f"The parameter 'from' of a crosstalk fault must be {rule}; {value!r} is invalid.")
        if not (labels and all(labels)):
            raise ValueError(f"The parameter 'from' of a crosstalk fault must be {rule}; {value!r} is invalid.")
        return tuple(labels)
    low, high, low_inclusive, what = _RULES[name]
    message = f"The parameter {name!r} of a {kind} fault must be {what}; {value!r} is invalid."
    if not _is_number(value):
        raise TypeError(message)
    ok = math.isfinite(value) and value <= high and (value >= low if low_inclusive else value > low)
    if not ok:
        raise ValueError(message)
    return float(value)


@dataclass(frozen=True)
class Fault:
    """One fault: what, where, when.

    Parameters
    ----------
    kind : str
        One of :data:`FAULT_KINDS`.
    onset : float | None
        Seconds after the run start (sample ``round(onset * fs)``); ``None``
        (run-time injection only) starts it at the next block.
    duration : float | None
        Seconds (``round(duration * fs)`` samples, at least one); ``None`` lasts
        until the run ends or the fault is ended.
    channels : str | sequence of str | None
        Channel labels, or ``"all"``/``None`` for every channel. ``sample_loss``
        always affects every channel.
    params : Mapping[str, Any] | tuple of (str, Any) pairs
        Kind-specific parameters (:data:`FAULT_PARAMS`); missing ones take
        their defaults. Stored as a sorted tuple of pairs; read them with
        :meth:`param`.
    """

    kind: str
    onset: float | None = 0.0
    duration: float | None = None
    channels: tuple[str, ...] | None = None
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, FAULT_KINDS)
        check_optional_number("onset", self.onset, 0.0, unit="s", hint="It counts from the run start.")
        check_optional_number("duration", self.duration, 0.0, unit="s", lo_open=True,
                              hint="None lasts until the end.")
        channels = self.channels
        if isinstance(channels, str):
            channels = None if channels.lower() == "all" else (channels,)
        if channels is not None:
            rule = "'all' or a non-empty list of channel labels"
            if not (isinstance(channels, Sequence) and all(isinstance(c, str) for c in channels)):
                raise TypeError(f"The argument 'channels' must be {rule}; {self.channels!r} is invalid.")
            if not (channels and all(channels)):
                raise ValueError(f"The argument 'channels' must be {rule}; {self.channels!r} is invalid.")
            channels = tuple(channels)
            if len(set(channels)) != len(channels):
                raise ValueError(f"The argument 'channels' lists a channel twice. {self.channels!r} is invalid.")
        if self.kind == "sample_loss" and channels is not None:
            raise ValueError(
                "A sample_loss fault removes whole samples from the stream, so it affects every channel: "
                f"use channels 'all' (or omit it). {self.channels!r} is invalid."
            )
        object.__setattr__(self, "channels", channels)
        given = dict(self.params.items() if isinstance(self.params, Mapping) else self.params)
        allowed = FAULT_PARAMS[self.kind]
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            names = ", ".join(allowed) or "none"
            raise ValueError(
                f"A {self.kind} fault takes the parameters {names}; {', '.join(map(repr, unknown))} is invalid."
            )
        full = {name: _check_param(self.kind, name, given.get(name, default)) for name, default in allowed.items()}
        object.__setattr__(self, "params", tuple(sorted(full.items())))

    def param(self, name: str) -> Any:
        """Value of the parameter ``name`` (default filled in)."""
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"A {self.kind} fault has no parameter {name!r}; it has {[k for k, _ in self.params]}.")

    @property
    def channel_text(self) -> str:
        """``"all"`` or the labels joined by commas (as in the markers)."""
        return "all" if self.channels is None else ",".join(self.channels)


def parse_faults(data: object, where: str = "faults") -> tuple[Fault, ...]:
    """Build faults from loaded JSON/TOML data.

    Parameters
    ----------
    data : list | Mapping
        A list of fault entries, or a mapping with the list under ``"faults"``
        (JSON) or ``"fault"`` (TOML ``[[fault]]`` tables).
    where : str
        Name of the origin, used in error messages.

    Returns
    -------
    tuple of Fault
        In file order (their ids are 1, 2, ... in this order).
    """
    if isinstance(data, Mapping):
        keys = [k for k in ("faults", "fault") if k in data]
        extra = sorted(set(data) - {"faults", "fault"})
        if len(keys) != 1 or extra:
            raise ValueError(
                f"{where}: the top level must hold the fault list under one key, 'faults' (JSON) or "
                f"'fault' (TOML [[fault]] tables); found keys {sorted(data)}."
            )
        data = data[keys[0]]
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise ValueError(f"{where}: expected a list of faults, got {type(data).__name__}.")
    faults = []
    for i, entry in enumerate(data, start=1):
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: fault {i} must be a table/object, got {type(entry).__name__}.")
        unknown = sorted(set(entry) - set(_ENTRY_KEYS))
        if unknown:
            raise ValueError(f"{where}: fault {i} has unknown keys {unknown}; allowed: {', '.join(_ENTRY_KEYS)}.")
        for key in ("onset", "kind"):
            if key not in entry:
                raise ValueError(f"{where}: fault {i} needs {key!r} (keys: {', '.join(_ENTRY_KEYS)}).")
        params = entry.get("params", {})
        if not isinstance(params, Mapping):
            raise ValueError(f"{where}: fault {i}: 'params' must be a table/object, got {type(params).__name__}.")
        try:
            faults.append(
                Fault(
                    kind=entry["kind"],
                    onset=entry["onset"],
                    duration=entry.get("duration"),
                    channels=entry.get("channels"),
                    params=dict(params),
                )
            )
        except (TypeError, ValueError) as err:  # a wrong type in a file is a bad value of the file
            raise ValueError(f"{where}: fault {i}: {err}") from err
    return tuple(faults)


def load_faults(path: str | Path) -> tuple[Fault, ...]:
    """Read a fault file: ``.json`` or ``.toml`` (see ``docs/faults.md``).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension, a syntax error, or an invalid fault (the message
        names the file, the fault's position and the rule).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The fault file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON: {err}") from err
    elif suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML: {err}") from err
    else:
        raise ValueError(f"The fault file must end in .json or .toml. {str(path)!r} is invalid.")
    return parse_faults(data, str(path))
