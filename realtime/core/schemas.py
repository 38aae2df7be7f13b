"""Every LSL stream myostream publishes, declared once: names, types, formats, channels, units, metadata.

Plain data, no pylsl: a :class:`StreamSpec` says what a stream announces;
:mod:`devices.lsl_outlet` turns it into a ``pylsl.StreamInfo`` and publishes
it. The simulator, the demo producer, the viewer (the names and types it
looks for) and ``docs/streams.md`` (checked by a test) all follow these
declarations.

Metadata follows the XDF meta-data convention: ``desc/channels/channel`` with
``label``, ``unit``, ``type`` and, for EMG, ``location`` (mm); plus
``desc/acquisition``, ``desc/reference``, ``desc/layout`` and the
stream-specific sections below.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from realtime.core.checks import check_choice, check_name, check_number
from realtime.core.units import IMU_CHANNELS, IMU_TYPES, IMU_UNITS

CHANNEL_FORMATS: tuple[str, ...] = ("float32", "double64", "string", "int8", "int16", "int32")
"""LSL channel formats a :class:`StreamSpec` may declare (the integer ones for device profiles)."""

INTEGER_FORMATS: dict[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
}
"""Integer channel formats -> the (lowest, highest) value they carry."""


@dataclass(frozen=True)
class ChannelInfo:
    """Metadata of one channel.

    Parameters
    ----------
    label : str
        Channel name.
    unit : str
        Unit (XDF spelling, e.g. ``"microvolts"``, ``"m/s^2"``, ``"rad/s"``, ``"normalized"``).
    type : str
        Channel content type (``"EMG"``, ``"Accelerometer"``, ...).
    location : tuple of float | None
        Electrode position (x, y, z) in millimetres, for EMG channels.
    """

    label: str
    unit: str
    type: str
    location: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class StreamSpec:
    """Everything an LSL outlet needs to announce a stream.

    Parameters
    ----------
    name : str
        Stream name (what consumers resolve by).
    type : str
        Stream content type (``"EMG"``, ``"IMU"``, ``"Markers"``, ...).
    channels : tuple of ChannelInfo
        One entry per channel.
    fs : float
        Nominal rate in Hz; 0 for an irregular stream.
    source_id : str
        Stable unique identifier, so consumers can recover after a restart.
    channel_format : str
        One of :data:`CHANNEL_FORMATS`.
    desc : Mapping[str, Mapping[str, str]]
        Extra ``desc`` children, e.g. ``{"acquisition": {"manufacturer": "myostream"}}``.
        A ``"filters"`` section with ``highpass`` and ``lowpass`` (Hz) is the band
        mne-lsl reads into ``info["highpass"]`` / ``info["lowpass"]``.
    desc_values : Mapping[str, str]
        Values written directly under ``desc`` (e.g. ``{"manufacturer": "OT Bioelettronica"}``,
        as some device apps do; mne-lsl reads ``manufacturer`` of a recorded stream
        into ``info["device_info"]["model"]``).
    """

    name: str
    type: str
    channels: tuple[ChannelInfo, ...]
    fs: float
    source_id: str
    channel_format: str = "float32"
    desc: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    desc_values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"The argument 'name' must be a non-empty stream name; {self.name!r} is invalid.")
        if not self.channels:
            raise ValueError(f"Stream {self.name!r} needs at least one channel.")
        check_number("fs", self.fs, 0.0, unit="Hz", hint="0 declares an irregular stream.")
        check_choice("channel_format", self.channel_format, CHANNEL_FORMATS)

    @property
    def labels(self) -> tuple[str, ...]:
        """The channel labels, in order."""
        return tuple(c.label for c in self.channels)

    @property
    def units(self) -> tuple[str, ...]:
        """The channel units, in order."""
        return tuple(c.unit for c in self.channels)


def stable_source_id(prefix: str, suffix: str) -> str:
    """Return ``<prefix>-<suffix>-<hostname>``: stable across restarts on one machine."""
    return f"{prefix}-{suffix}-{socket.gethostname()}"


def float_channels(labels: Sequence[str], unit: str, ctype: str) -> tuple[ChannelInfo, ...]:
    """Channel infos for channels sharing one unit and type."""
    return tuple(ChannelInfo(label, unit, ctype) for label in labels)


# ---------------------------------------------------------------------------- the streams
STREAM_SUFFIXES: dict[str, str] = {
    "emg": "EMG",
    "activation": "activation",
    "activation_model": "activation-model",
    "imu": "IMU",
    "status": "status",
    "markers": "markers",
    "spikes": "spikes",
    "provenance": "provenance",
    "gesture": "gesture",
    "intent": "intent",
}
"""Role of each stream -> its name suffix: the stream is called ``<prefix>-<suffix>``."""

STREAM_TYPES: dict[str, str] = {
    "emg": "EMG",
    "activation": "Activation",
    "activation_model": "Activation",
    "imu": "IMU",
    "status": "Status",
    "markers": "Markers",
    "spikes": "Spikes",
    "provenance": "Provenance",
    "gesture": "Gesture",
    "intent": "Markers",
}
"""Role of each stream -> its LSL content type."""

DEFAULT_PREFIX = "myostream"
"""The stream-name prefix when none is given (``run --name``)."""

EMG_UNIT = "microvolts"
"""Unit of the EMG channels."""

ACTIVATION_UNIT = "normalized"
"""Unit of the activation channels (values in [0, 1])."""

STATUS_CHANNELS: tuple[str, ...] = ("samples_sent", "effective_rate_hz", "late_ticks", "loop_load", "latency_ms")
"""Channels of ``<prefix>-status``: runner health once per second."""

STATUS_UNITS: tuple[str, ...] = ("count", "Hz", "count", "fraction", "ms")
"""Unit of each of :data:`STATUS_CHANNELS`."""

SPIKE_CHANNELS: tuple[str, ...] = ("muscle", "unit", "sample")
"""Channels of ``<prefix>-spikes`` (one LSL sample per motor-unit discharge)."""

SPIKE_UNITS: tuple[str, ...] = ("index", "index", "samples")
"""Unit of each of :data:`SPIKE_CHANNELS`."""

PROVENANCE_CHANNELS: tuple[str, ...] = (
    "imu_time",
    "imu_seq",
    "emg_index",
    "emg_samples",
    "imu_read_time",
    "emg_push_time",
)
"""Columns of a provenance row (all float64; see :class:`realtime.app.provenance.ProvenanceTracker`)."""

PROVENANCE_UNITS: tuple[str, ...] = ("seconds", "count", "count", "count", "seconds", "seconds")
"""Unit of each of :data:`PROVENANCE_CHANNELS`."""

DEVICE_PROVENANCE_CHANNELS: tuple[str, ...] = ("device_sample", "device_true_time", "device_stamp")
"""Columns a device profile with a realistic clock appends to a provenance row (``run --device-clock``)."""

DEVICE_PROVENANCE_UNITS: tuple[str, ...] = ("count", "seconds", "seconds")
"""Unit of each of :data:`DEVICE_PROVENANCE_CHANNELS`."""


GESTURE_CHANNELS: tuple[str, ...] = ("gesture", "effort")
"""Channels of ``<prefix>-gesture``: class index into :data:`realtime.core.anatomy.GESTURES`, effort."""

GESTURE_UNITS: tuple[str, ...] = ("index", "normalized")
"""Unit of each of :data:`GESTURE_CHANNELS`."""


def stream_name(prefix: str, role: str) -> str:
    """The name of the stream of ``role`` (a key of :data:`STREAM_SUFFIXES`): ``<prefix>-<suffix>``."""
    return f"{prefix}-{STREAM_SUFFIXES[check_choice('role', role, tuple(STREAM_SUFFIXES))]}"


def emg_stream_spec(
    prefix: str,
    fs: float,
    labels: Sequence[str],
    locations_mm: Sequence[Sequence[float]] | None,
    *,
    layout: str,
    montage: str,
    reference: str,
    differential: bool,
    description: str = "",
    grid: tuple[int, int] | None = None,
    band: tuple[float, float] | None = None,
) -> StreamSpec:
    """The ``<prefix>-EMG`` stream: one channel per electrode-layout channel, µV, locations in mm.

    Parameters
    ----------
    prefix : str
        Stream-name prefix.
    fs : float
        EMG rate in Hz.
    labels : sequence of str
        Channel labels of the layout.
    locations_mm : sequence of (x, y, z) | None
        Position of each channel in millimetres (``desc/channels/channel/location``).
    layout, montage, reference : str
        Layout name (also ``acquisition/model``), montage kind, reference label.
    differential : bool
        Whether the reference is subtracted (``reference/subtracted``).
    description : str
        Human-readable description of the layout (``layout/description``; left out if empty).
    grid : (rows, cols) | None
        Grid shape of an HD grid (``layout/rows``, ``layout/cols``).
    band : (highpass, lowpass) | None
        Pass band of the signal in Hz (``filters/highpass``, ``filters/lowpass``, read by
        mne-lsl). ``None``: ``(0, fs / 2)``, the simulator's (no high-pass: baseline
        wander passes; the only limit is the Nyquist rate).
    """
    check_name("prefix", prefix)
    locations = [None] * len(labels) if locations_mm is None else [tuple(float(v) for v in loc) for loc in locations_mm]
    channels = tuple(ChannelInfo(label, EMG_UNIT, "EMG", loc) for label, loc in zip(labels, locations))
    layout_desc = {"name": layout, "montage": montage}
    if description:
        layout_desc["description"] = description
    if grid is not None:
        layout_desc.update(rows=str(grid[0]), cols=str(grid[1]))
    desc = {
        "acquisition": {"manufacturer": "myostream", "model": layout, "compensated_lag": "0", "precision": "32"},
        "reference": {"label": reference, "subtracted": "Yes" if differential else "No"},
        "layout": layout_desc,
        "filters": filters_desc(*(band if band is not None else (0.0, float(fs) / 2.0))),
    }
    return StreamSpec(
        stream_name(prefix, "emg"), STREAM_TYPES["emg"], channels, fs, stable_source_id(prefix, f"emg-{layout}"),
        desc=desc, desc_values={"manufacturer": "myostream"},
    )


def filters_desc(highpass: float, lowpass: float) -> dict[str, str]:
    """The ``desc/filters`` section mne-lsl reads: pass band edges in Hz (``highpass`` 0 = none)."""
    check_number("highpass", highpass, 0.0, unit="Hz")
    check_number("lowpass", lowpass, 0.0, unit="Hz")
    if not lowpass > highpass:
        raise ValueError(f"The pass band needs lowpass > highpass; {highpass:g}-{lowpass:g} Hz is invalid.")
    return {"highpass": f"{highpass:g}", "lowpass": f"{lowpass:g}"}


def imu_stream_spec(prefix: str, fs: float, suffix: str = STREAM_SUFFIXES["imu"]) -> StreamSpec:
    """The ``<prefix>-IMU`` stream: the 6 IMU channels actually used (m/s², rad/s).

    ``suffix`` names an IMU stream of another role (the latency benchmark's IMU device).
    """
    check_name("prefix", prefix)
    channels = tuple(ChannelInfo(c, u, t) for c, u, t in zip(IMU_CHANNELS, IMU_UNITS, IMU_TYPES))
    source = "imu" if suffix == STREAM_SUFFIXES["imu"] else suffix
    return StreamSpec(f"{prefix}-{suffix}", STREAM_TYPES["imu"], channels, fs, stable_source_id(prefix, source))


def activation_stream_spec(prefix: str, muscles: Sequence[str], fs: float, model: bool = False) -> StreamSpec:
    """``<prefix>-activation`` (ground truth) or, with ``model``, ``<prefix>-activation-model`` (the network's).

    One channel per muscle, values in [0, 1].
    """
    check_name("prefix", prefix)
    role = "activation_model" if model else "activation"
    suffix = STREAM_SUFFIXES[role]
    desc = {"activation": {"range": "0-1", "kind": "model prediction" if model else "ground truth"}}
    return StreamSpec(
        stream_name(prefix, role), STREAM_TYPES[role], float_channels(muscles, ACTIVATION_UNIT, "Activation"), fs,
        stable_source_id(prefix, suffix), desc=desc,
    )


def spikes_stream_spec(prefix: str, muscles: Sequence[str], fs: float) -> StreamSpec:
    """The ``<prefix>-spikes`` stream: irregular, float64, one sample per discharge.

    Channels ``muscle`` (index into ``muscles``, listed in ``desc/spikes/muscles``),
    ``unit`` (rank in the muscle's pool, 0 = first recruited) and ``sample``
    (index of the EMG sample of the discharge instant, where the unit's MUAP
    table starts; the same for every layout); the LSL timestamp is that EMG
    sample's timestamp.
    """
    check_name("prefix", prefix)
    types = ("MuscleIndex", "MotorUnit", "SampleIndex")
    channels = tuple(ChannelInfo(c, u, t) for c, u, t in zip(SPIKE_CHANNELS, SPIKE_UNITS, types))
    desc = {"spikes": {"muscles": ",".join(muscles), "emg_fs": f"{fs:g}", "emg_stream": stream_name(prefix, "emg")}}
    return StreamSpec(
        stream_name(prefix, "spikes"), STREAM_TYPES["spikes"], channels, 0.0, stable_source_id(prefix, "spikes"),
        channel_format="double64", desc=desc,
    )


def status_stream_spec(prefix: str) -> StreamSpec:
    """The ``<prefix>-status`` stream: runner health once per second, float64 (a sample count passes 2^24)."""
    check_name("prefix", prefix)
    channels = tuple(ChannelInfo(c, u, "Status") for c, u in zip(STATUS_CHANNELS, STATUS_UNITS))
    return StreamSpec(
        stream_name(prefix, "status"), STREAM_TYPES["status"], channels, 1.0, stable_source_id(prefix, "status"),
        channel_format="double64",
    )


def markers_stream_spec(prefix: str) -> StreamSpec:
    """The ``<prefix>-markers`` stream: one string per event, irregular."""
    check_name("prefix", prefix)
    return StreamSpec(
        stream_name(prefix, "markers"), STREAM_TYPES["markers"], (ChannelInfo("event", "", "Marker"),), 0.0,
        stable_source_id(prefix, "markers"), channel_format="string",
    )


def provenance_stream_spec(prefix: str, fs: float, block_size: int, device_clock: bool = False) -> StreamSpec:
    """The ``<prefix>-provenance`` stream: one double64 row per EMG block.

    Parameters
    ----------
    prefix : str
        Stream-name prefix.
    fs : float
        EMG rate in Hz.
    block_size : int
        EMG samples per block; the stream's nominal rate is ``fs / block_size``.
    device_clock : bool
        Append :data:`DEVICE_PROVENANCE_CHANNELS`: the newest sample a device profile
        has published, its true time and the (jittered, drifting) timestamp it got.
    """
    check_name("prefix", prefix)
    names, units = PROVENANCE_CHANNELS, PROVENANCE_UNITS
    if device_clock:
        names, units = names + DEVICE_PROVENANCE_CHANNELS, units + DEVICE_PROVENANCE_UNITS
    channels = tuple(ChannelInfo(c, u, "Provenance") for c, u in zip(names, units))
    desc = {
        "provenance": {
            "imu_time": "LSL timestamp of the newest IMU sample that contributed to the EMG block",
            "imu_seq": "source sample index of that IMU sample (-1: none yet)",
            "emg_index": "index of the EMG block's first sample (EMG sample n has timestamp t0 + n / fs)",
            "emg_samples": "samples in the EMG block",
            "imu_read_time": "LSL clock when the runner read that IMU sample from the source",
            "emg_push_time": "LSL clock when the EMG block was handed to its outlet",
            "timestamp": "the EMG block's last-sample timestamp",
        }
    }
    if device_clock:
        desc["provenance"].update(
            device_sample="index of the newest device EMG sample published so far (-1: none yet)",
            device_true_time="LSL time at which the device acquired that sample (its true time)",
            device_stamp="the timestamp that sample was published with (arrival stamp, jitter, drift)",
        )
    return StreamSpec(
        stream_name(prefix, "provenance"), STREAM_TYPES["provenance"], channels, float(fs) / int(block_size),
        stable_source_id(prefix, "provenance"), channel_format="double64", desc=desc,
    )


def gesture_stream_spec(prefix: str, gestures: Sequence[str], fs: float) -> StreamSpec:
    """The ``<prefix>-gesture`` stream: the gesture ground truth on the EMG clock, one row per EMG sample.

    Channels ``gesture`` (index into ``gestures``, listed in ``desc/gesture/classes``; 0 = rest) and
    ``effort`` (the commanded effort, 0-1 of a maximal gesture); sample ``n`` has the timestamp of
    EMG sample ``n``.
    """
    check_name("prefix", prefix)
    types = ("GestureClass", "Effort")
    channels = tuple(ChannelInfo(c, u, t) for c, u, t in zip(GESTURE_CHANNELS, GESTURE_UNITS, types))
    desc = {"gesture": {"classes": ",".join(gestures), "emg_stream": stream_name(prefix, "emg"),
                        "kind": "ground truth (commanded gesture and effort)"}}
    return StreamSpec(
        stream_name(prefix, "gesture"), STREAM_TYPES["gesture"], channels, fs, stable_source_id(prefix, "gesture"),
        desc=desc,
    )


def intent_stream_spec(prefix: str, source: str = "viewer") -> StreamSpec:
    """The ``<prefix>-intent`` marker stream a program sends gesture intent on (the viewer's keys, a script).

    One string per command: ``"<gesture> [effort]"`` with effort in 0-1 or a percentage
    (``"hand_close 0.6"``, ``"pinch 30%"``, ``"rest"``). The simulator listens for any stream
    of this name (docs/gestures.md also describes the continuous form: one float channel
    per gesture). ``source`` tells senders apart in the ``source_id``.
    """
    check_name("prefix", prefix)
    check_name("source", source)
    return StreamSpec(
        stream_name(prefix, "intent"), STREAM_TYPES["intent"], (ChannelInfo("command", "", "Marker"),), 0.0,
        stable_source_id(prefix, f"intent-{source}"), channel_format="string",
    )
