"""Device profiles: what a real amplifier's LSL app publishes, read from a TOML file.

A profile (``run --profile NAME|FILE``; the built-in ones sit next to this
module, ``docs/profiles.md`` documents every key) declares the EMG stream a
device's LSL app publishes (name, type, source id, labels, units, rate, channel
format, scaling and saturation of its counts, extra channels, packet size,
metadata), optionally a companion IMU stream in the device's units, and the
device's clock (drift, delivery jitter and bursts) used with ``run --device-clock``.

Errors are one line naming the file and the field, e.g.
``Profile file 'x.toml': field 'emg.fs': must be a number > 0 Hz; -1 is invalid.``
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.core.schemas import CHANNEL_FORMATS, INTEGER_FORMATS

PROFILE_DIR = Path(__file__).resolve().parent
"""Where the built-in profiles (``<name>.toml``) live."""

EXTRA_KINDS: tuple[str, ...] = ("counter", "constant", "quat_w", "quat_x", "quat_y", "quat_z")
"""What an extra EMG-stream channel carries: a sample counter, a constant (trigger), an orientation component."""

IMU_KINDS: dict[str, tuple[str, str]] = {
    "quat_w": ("normalized", "Orientation"), "quat_x": ("normalized", "Orientation"),
    "quat_y": ("normalized", "Orientation"), "quat_z": ("normalized", "Orientation"),
    "acc_x": ("g", "Accelerometer"), "acc_y": ("g", "Accelerometer"), "acc_z": ("g", "Accelerometer"),
    "gyr_x": ("deg/s", "Gyroscope"), "gyr_y": ("deg/s", "Gyroscope"), "gyr_z": ("deg/s", "Gyroscope"),
    "mag_x": ("uT", "Magnetometer"), "mag_y": ("uT", "Magnetometer"), "mag_z": ("uT", "Magnetometer"),
}
"""Channel kinds of a companion IMU stream -> (default unit, XDF channel type)."""

STAMPING: tuple[str, ...] = ("chunk_last", "sample_arrival")
"""How the device's app stamps what it receives: the last sample of each packet gets the
arrival time and the others are counted back at the nominal rate (``chunk_last``: LSL's
``push_chunk`` default, the Quattrocento and Muovi apps), or every sample gets its own
arrival time (``sample_arrival``: ``push_sample`` per sample, the Myo app)."""


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ExtraChannel:
    """A non-EMG channel of the EMG stream (after the EMG slots).

    Parameters
    ----------
    label, unit, type : str
        Channel metadata.
    kind : str
        One of :data:`EXTRA_KINDS`.
    value : float
        The value of a ``constant``.
    wrap : int
        A ``counter`` counts modulo ``wrap`` (0: never wraps).
    signed : bool
        A wrapping counter is read as a signed integer of its width
        (``wrap`` 65536: -32768..32767, as an ``int16`` word is).
    """

    label: str
    unit: str
    type: str
    kind: str
    value: float = 0.0
    wrap: int = 0
    signed: bool = False


@dataclass(frozen=True)
class EmgProfile:
    """The device's EMG stream.

    Parameters
    ----------
    name, type, source_id : str
        Stream name (``{prefix}`` is replaced by ``run --name``), content type, source id.
    fs : float
        The device's nominal rate in Hz.
    engine_fs : float
        The rate the engine simulates at (the output is resampled to ``fs`` when they differ).
    channel_format : str
        LSL channel format.
    labels : tuple of str
        One label per EMG slot.
    unit, channel_type : str
        Unit and XDF type of the EMG channels.
    layout : str
        Default electrode layout (a built-in name or a file path, resolved relative to the profile).
    resolution_uv : float
        One count of the device's ADC in µV (0: no quantisation).
    bits : int
        ADC width: counts saturate at ``-2**(bits-1)`` and ``2**(bits-1) - 1`` (0: no saturation).
    scale : float
        Published value per µV for float formats (1: µV, 1e-6: volts); integer formats publish counts.
    extras : tuple of ExtraChannel
        Channels after the EMG slots.
    packet : int
        Samples per packet the device delivers (and the app pushes).
    band : (highpass, lowpass) | None
        The device's pass band in Hz (applied, and announced in ``desc/filters``); ``None``: none.
    desc : Mapping[str, Mapping[str, str]]
        ``desc`` sections the app writes.
    desc_values : Mapping[str, str]
        Values the app writes directly under ``desc``.
    """

    name: str
    type: str
    source_id: str
    fs: float
    engine_fs: float
    channel_format: str
    labels: tuple[str, ...]
    unit: str
    channel_type: str
    layout: str
    resolution_uv: float
    bits: int
    scale: float
    extras: tuple[ExtraChannel, ...]
    packet: int
    band: tuple[float, float] | None
    desc: Mapping[str, Mapping[str, str]]
    desc_values: Mapping[str, str]

    @property
    def slots(self) -> int:
        """Number of EMG channels (slots) the stream has."""
        return len(self.labels)

    @property
    def count_limits(self) -> tuple[int, int] | None:
        """(lowest, highest) count, or ``None`` without saturation."""
        if self.bits <= 0:
            return None
        return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1


@dataclass(frozen=True)
class ImuProfile:
    """The device's companion IMU stream.

    Parameters
    ----------
    name, type, source_id : str
        Stream name (``{prefix}`` replaced), content type, source id.
    fs : float
        Nominal rate in Hz.
    channel_format : str
        LSL channel format (a float format).
    sensors : int
        Sensors (slots) in the stream; each carries ``kinds``.
    kinds : tuple of str
        Channel kinds per sensor (keys of :data:`IMU_KINDS`).
    labels : tuple of str
        One label per channel (``sensors * len(kinds)``).
    units : tuple of str
        One unit per channel.
    packet : int
        Samples per packet.
    desc_values : Mapping[str, str]
        Values the app writes directly under ``desc``.
    """

    name: str
    type: str
    source_id: str
    fs: float
    channel_format: str
    sensors: int
    kinds: tuple[str, ...]
    labels: tuple[str, ...]
    units: tuple[str, ...]
    packet: int
    desc_values: Mapping[str, str]


@dataclass(frozen=True)
class ClockProfile:
    """The device's clock and transport, used with ``run --device-clock``.

    Parameters
    ----------
    drift_ppm : float
        Rate error of the device's sample clock against the LSL clock (positive: fast).
    latency_ms : float
        Mean delay from acquiring a packet's last sample to the app stamping it.
    jitter_ms : float
        Standard deviation of that delay's random part (half-normal, never early).
    burst : int
        Packets the transport delivers together (the app stamps them at one arrival).
    stamping : str
        One of :data:`STAMPING`.
    """

    drift_ppm: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    burst: int = 1
    stamping: str = "chunk_last"


@dataclass(frozen=True)
class Profile:
    """A device profile: its EMG stream, optional IMU stream and clock.

    Parameters
    ----------
    name : str
        Profile name.
    description : str
        One line.
    sources : tuple of str
        Where the conventions come from (repository and path, or manual).
    emg : EmgProfile | None
        ``None`` for a native profile (``native = true``: myostream's own streams, as
        ``docs/streams.md`` describes them).
    imu : ImuProfile | None
    clock : ClockProfile
    path : Path | None
        The file it was read from.
    """

    name: str
    description: str
    sources: tuple[str, ...]
    emg: EmgProfile | None
    imu: ImuProfile | None
    clock: ClockProfile
    path: Path | None = None

    @property
    def native(self) -> bool:
        """Whether this is myostream's own convention (the simulator's native streams)."""
        return self.emg is None


# ------------------------------------------------------------------------------------------- loading
def builtin_profiles() -> tuple[str, ...]:
    """Names of the built-in profiles."""
    return tuple(sorted(p.stem for p in PROFILE_DIR.glob("*.toml") if not p.stem.startswith("_")))


def load_profile(name_or_path: str | Path | Profile) -> Profile:
    """Load a built-in profile by name, or a profile file (``.toml``); a :class:`Profile` is returned as is.

    Raises
    ------
    ProfileError
        One line naming the file and the field.
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    text = str(name_or_path)
    path = PROFILE_DIR / f"{text}.toml" if text in builtin_profiles() else Path(text)
    if not path.is_file():
        raise ProfileError(
            f"Profile {text!r} is neither a built-in profile ({', '.join(builtin_profiles())}) nor an existing "
            ".toml file."
        )
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"Profile file {str(path)!r} is not valid TOML: {exc}") from None
    try:
        return profile_from_mapping(data, path)
    except _FieldError as exc:
        raise ProfileError(f"Profile file {str(path)!r}: field {exc.field!r}: {exc.rule}") from None


class _FieldError(Exception):
    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field, self.rule = field, rule


class _Table:
    """A TOML table with typed, named getters that raise :class:`_FieldError`."""

    def __init__(self, data: object, where: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(data, Mapping):
            raise _FieldError(where or "<top>", f"must be a table; {data!r} is invalid.")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise _FieldError(f"{where}.{unknown[0]}" if where else unknown[0],
                              f"is not a known key; allowed are {', '.join(allowed)}.")
        self.data, self.where = data, where

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.data

    def str(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value:
            raise _FieldError(self.field(key), f"must be a non-empty string; {value!r} is invalid.")
        return value

    def number(self, key: str, default: float | None = None, lo: float | None = None, lo_open: bool = False,
               hi: float | None = None) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _FieldError(self.field(key), f"must be a number; {value!r} is invalid.")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise _FieldError(self.field(key), f"must be {'>' if lo_open else '>='} {lo:g}; {value!r} is invalid.")
        if hi is not None and value > hi:
            raise _FieldError(self.field(key), f"must be <= {hi:g}; {value!r} is invalid.")
        return float(value)

    def integer(self, key: str, default: int | None = None, lo: int = 0, hi: int | None = None) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
            rng = f">= {lo}" if hi is None else f"within [{lo}, {hi}]"
            raise _FieldError(self.field(key), f"must be an integer {rng}; {value!r} is invalid.")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            raise _FieldError(self.field(key), f"must be one of {', '.join(choices)}; {value!r} is invalid.")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise _FieldError(self.field(key), f"must be true or false; {value!r} is invalid.")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise _FieldError(self.field(key), f"must be a non-empty list of non-empty strings; {value!r} is invalid.")
        return tuple(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(v, (str, int, float)) for v in value.values()):
            raise _FieldError(self.field(key), f"must be a table of strings or numbers; {value!r} is invalid.")
        return {k: str(v) for k, v in value.items()}

    def sections(self, key: str) -> dict[str, dict[str, str]]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise _FieldError(self.field(key), f"must be a table of tables; {value!r} is invalid.")
        out = {}
        for name, section in value.items():
            if not isinstance(section, Mapping) or not all(isinstance(v, (str, int, float)) for v in section.values()):
                raise _FieldError(f"{self.field(key)}.{name}", f"must be a table of strings or numbers; {section!r} "
                                  "is invalid.")
            out[name] = {k: str(v) for k, v in section.items()}
        return out


def _labels(t: _Table, n: int, what: str) -> tuple[str, ...]:
    """``labels = [...]`` (n of them) or ``label = "pattern"`` with ``{n}``, ``{block}``, ``{k}`` (``label_block``)."""
    if t.has("labels"):
        labels = t.strings("labels")
        if len(labels) != n:
            raise _FieldError(t.field("labels"), f"must list {n} {what} labels; {len(labels)} are given.")
        return labels
    pattern = t.str("label")
    block = t.integer("label_block", n, lo=1)
    try:
        labels = tuple(pattern.format(n=i + 1, block=i // block + 1, k=i % block + 1) for i in range(n))
    except (KeyError, IndexError, ValueError) as exc:
        raise _FieldError(t.field("label"), f"may use only {{n}}, {{block}} and {{k}}; {pattern!r} is invalid "
                          f"({exc}).") from None
    if len(set(labels)) != n:
        raise _FieldError(t.field("label"), f"must give distinct labels; {pattern!r} repeats some.")
    return labels


_TOP = ("name", "description", "sources", "native", "emg", "imu", "clock")
_EMG = ("name", "type", "source_id", "fs", "engine_fs", "format", "channels", "labels", "label", "label_block",
        "unit", "channel_type", "layout", "resolution_uv", "bits", "scale", "packet", "band", "desc", "desc_values",
        "extra")
_EXTRA = ("label", "kind", "unit", "type", "value", "wrap", "signed")
_IMU = ("name", "type", "source_id", "fs", "format", "sensors", "kinds", "labels", "label", "units", "packet",
        "desc_values")
_CLOCK = ("drift_ppm", "latency_ms", "jitter_ms", "burst", "stamping")

ENGINE_FS_RANGE = (500.0, 10_000.0)
"""Rates the engine simulates (``realtime.core.units.EMG_FS_MIN`` / ``EMG_FS_MAX``)."""


def profile_from_mapping(data: Mapping[str, Any], path: Path | None = None) -> Profile:
    """Build a :class:`Profile` from a parsed profile file (raises ``_FieldError`` naming the field)."""
    top = _Table(data, "", _TOP)
    if top.boolean("native", False):
        if "emg" in data or "imu" in data:
            raise _FieldError("native", "a native profile (myostream's own streams) takes no [emg] or [imu] section.")
        return Profile(top.str("name"), top.str("description"), top.strings("sources"), None, None, ClockProfile(),
                       path)
    emg = _emg(_Table(data.get("emg"), "emg", _EMG), path)
    imu = _imu(_Table(data["imu"], "imu", _IMU)) if "imu" in data else None
    clock = _clock(_Table(data.get("clock", {}), "clock", _CLOCK))
    return Profile(top.str("name"), top.str("description"), top.strings("sources"), emg, imu, clock, path)


def _emg(t: _Table, path: Path | None) -> EmgProfile:
    fs = t.number("fs", lo=0.0, lo_open=True)
    default_engine = fs if ENGINE_FS_RANGE[0] <= fs <= ENGINE_FS_RANGE[1] else 1000.0
    engine_fs = t.number("engine_fs", default_engine, lo=ENGINE_FS_RANGE[0], hi=ENGINE_FS_RANGE[1])
    fmt = t.choice("format", tuple(f for f in CHANNEL_FORMATS if f != "string"), "float32")
    n = t.integer("channels", lo=1, hi=1024)
    resolution = t.number("resolution_uv", 0.0, lo=0.0)
    bits = t.integer("bits", 0, lo=0, hi=32)
    if fmt in INTEGER_FORMATS:
        if resolution <= 0:
            raise _FieldError(t.field("resolution_uv"), f"must be > 0 µV per count for the integer format {fmt}.")
        lo, hi = INTEGER_FORMATS[fmt]
        if bits == 0 or -(2 ** (bits - 1)) < lo or 2 ** (bits - 1) - 1 > hi:
            raise _FieldError(t.field("bits"), f"must be 1..{int(math.log2(hi + 1)) + 1} for the format {fmt} "
                              f"(counts must fit); {bits!r} is invalid.")
    band = None
    if t.has("band"):
        value = t.data["band"]
        if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, (int, float)) for v in value)
                or not 0 <= value[0] < value[1] or value[1] > fs / 2):
            raise _FieldError(t.field("band"), f"must be [highpass, lowpass] in Hz with 0 <= highpass < lowpass <= "
                              f"fs / 2 ({fs / 2:g}); {value!r} is invalid.")
        band = (float(value[0]), float(value[1]))
    layout = t.str("layout", "armband8")
    if layout.endswith((".toml", ".json")) and path is not None and not Path(layout).is_absolute():
        layout = str((path.parent / layout).resolve())
    extras_raw = t.data.get("extra", [])
    if not isinstance(extras_raw, list):
        raise _FieldError(t.field("extra"), "must be an array of tables ([[emg.extra]]).")
    extras = []
    for i, raw in enumerate(extras_raw):
        e = _Table(raw, f"emg.extra[{i}]", _EXTRA)
        kind = e.choice("kind", EXTRA_KINDS)
        extras.append(ExtraChannel(
            e.str("label"), e.str("unit", "none"), e.str("type", "Misc"), kind, e.number("value", 0.0),
            e.integer("wrap", 0, lo=0), e.boolean("signed", False),
        ))
    labels = _labels(t, n, "EMG")
    all_labels = list(labels) + [e.label for e in extras]
    if len(set(all_labels)) != len(all_labels):
        raise _FieldError(t.field("extra"), "extra channel labels must differ from each other and the EMG labels.")
    return EmgProfile(
        name=t.str("name"), type=t.str("type"), source_id=t.str("source_id"), fs=fs, engine_fs=engine_fs,
        channel_format=fmt, labels=labels, unit=t.str("unit"), channel_type=t.str("channel_type", "EMG"),
        layout=layout, resolution_uv=resolution, bits=bits, scale=t.number("scale", 1.0, lo=0.0, lo_open=True),
        extras=tuple(extras), packet=t.integer("packet", 1, lo=1, hi=4096), band=band, desc=t.sections("desc"),
        desc_values=t.str_map("desc_values"),
    )


def _imu(t: _Table) -> ImuProfile:
    kinds = t.strings("kinds")
    for i, kind in enumerate(kinds):
        if kind not in IMU_KINDS:
            raise _FieldError(f"imu.kinds[{i}]", f"must be one of {', '.join(IMU_KINDS)}; {kind!r} is invalid.")
    sensors = t.integer("sensors", 1, lo=1, hi=64)
    n = sensors * len(kinds)
    if t.has("labels"):
        labels = t.strings("labels")
        if len(labels) != n:
            raise _FieldError(t.field("labels"), f"must list {n} labels (sensors x kinds); {len(labels)} are given.")
    else:
        pattern = t.str("label", "{kind}")
        try:
            labels = tuple(pattern.format(sensor=s + 1, kind=k) for s in range(sensors) for k in kinds)
        except (KeyError, IndexError, ValueError) as exc:
            raise _FieldError(t.field("label"), f"may use only {{sensor}} and {{kind}}; {pattern!r} is invalid "
                              f"({exc}).") from None
        if len(set(labels)) != n:
            raise _FieldError(t.field("label"), f"must give distinct labels; {pattern!r} repeats some.")
    unit_map = t.str_map("units")
    units = tuple(unit_map.get(k, IMU_KINDS[k][0]) for k in kinds) * sensors
    return ImuProfile(
        name=t.str("name"), type=t.str("type"), source_id=t.str("source_id"), fs=t.number("fs", lo=0.0, lo_open=True),
        channel_format=t.choice("format", ("float32", "double64"), "float32"), sensors=sensors, kinds=kinds,
        labels=labels, units=units, packet=t.integer("packet", 1, lo=1, hi=4096), desc_values=t.str_map("desc_values"),
    )


def _clock(t: _Table) -> ClockProfile:
    return ClockProfile(
        drift_ppm=t.number("drift_ppm", 0.0, lo=-1000.0, hi=1000.0),
        latency_ms=t.number("latency_ms", 0.0, lo=0.0, hi=10_000.0),
        jitter_ms=t.number("jitter_ms", 0.0, lo=0.0, hi=10_000.0),
        burst=t.integer("burst", 1, lo=1, hi=1000),
        stamping=t.choice("stamping", STAMPING, "chunk_last"),
    )
