"""Replay a recorded IMU file as a live source, at real-time speed (or faster/slower), optionally looping.

Two file kinds:

- **CSV** with a header row naming the columns. The six IMU columns are found
  by label (``acc_x`` ... ``gyr_z``, ``ax`` ... ``gz``, ``AccX`` ...), or chosen
  with ``channels``. An optional time column (``time``, ``timestamp``, ``t``,
  ``time_s``, ``lsl_time``; seconds) sets the pace; without one the rows are
  ``1 / fs`` apart. Every other numeric column (for example a sample
  ``index``) is passed along in ``Block.aux`` under its label, which is how a
  test proves that nothing is dropped or repeated. Lines starting with ``#``
  are comments. Values are in m/s² and rad/s unless scales are given.
- **XDF** (``.xdf``/``.xdfz``, read with pyxdf): the stream selected by name
  and/or type (default: type ``IMU``), channels by label, units from its
  metadata (``g``, ``deg/s`` are converted).

Sample ``k`` of loop ``m`` is due at ``t_start + (m * period + t_k - t_0) / speed``
on the clock, where ``period`` is the file's duration plus one sample
interval; ``read()`` returns every due sample not yet returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pylsl

from devices.channel_map import select_channels, unit_scales
from devices.threaded_source import SourceStatus
from realtime.core.block import NO_EVENTS, Block, empty_block
from realtime.core.checks import check_number, check_optional_number, check_type, ensure_path
from realtime.core.contract import StreamFormat
from realtime.core.lifecycle import Lifecycle
from realtime.core.logs import logger
from realtime.core.units import IMU_CHANNELS

TIME_COLUMNS: tuple[str, ...] = ("time", "timestamp", "timestamps", "t", "time_s", "lsl_time", "t_s")
"""Header labels recognised as the time column of a CSV file (seconds)."""


@dataclass(frozen=True)
class ReplaySettings:
    """What to replay and how fast.

    Parameters
    ----------
    path : str
        A ``.csv``/``.tsv``/``.txt`` or ``.xdf``/``.xdfz`` file.
    speed : float
        Playback speed factor (2 plays twice as fast), in (0, 100].
    loop : bool
        Start again at the end (the sample index keeps counting).
    fs : float | None
        Rate of a CSV file without a time column, in Hz (a file with times sets its own rate).
    stream_name, stream_type : str | None
        XDF stream to replay (default: the first of type ``IMU``).
    channels : tuple of 6 str | None
        Labels or 0-based column indices of acc_x..gyr_z (automatic if None).
    acc_scale, gyro_scale : float
        Multipliers to m/s² and rad/s for CSV values.
    """

    path: str
    speed: float = 1.0
    loop: bool = False
    fs: float | None = None
    stream_name: str | None = None
    stream_type: str | None = None
    channels: tuple[str, ...] | None = None
    acc_scale: float = 1.0
    gyro_scale: float = 1.0

    def __post_init__(self) -> None:
        ensure_path("path", self.path)
        check_number("speed", self.speed, 0.0, 100.0, "(a playback factor)", lo_open=True)
        check_optional_number("fs", self.fs, 0.0, 100_000.0, "Hz", lo_open=True)
        if self.channels is not None and len(self.channels) != 6:
            raise ValueError(f"The argument 'channels' must list 6 channels; {self.channels!r} is invalid.")
        for name in ("acc_scale", "gyro_scale"):
            check_number(name, getattr(self, name), 0.0, lo_open=True)


@dataclass(frozen=True)
class Recording:
    """IMU samples loaded from a file.

    Attributes
    ----------
    data : ndarray, shape (n, 6), float32
        Accelerometer (m/s²) and gyroscope (rad/s).
    t : ndarray, shape (n,), float64
        Time of each sample from the first, in seconds (non-decreasing).
    fs : float
        Nominal rate in Hz.
    aux : dict of str to ndarray
        Other numeric columns, one value per sample.
    """

    data: np.ndarray
    t: np.ndarray
    fs: float
    aux: dict[str, np.ndarray]


def load_recording(settings: ReplaySettings) -> Recording:
    """Load the file of ``settings`` (CSV or XDF), raising ``ValueError`` naming the file and the fix."""
    suffix = Path(settings.path).suffix.lower()
    rec = _load_xdf(settings) if suffix in (".xdf", ".xdfz") else _load_csv(settings)
    if rec.data.shape[0] == 0:
        raise ValueError(f"The file {settings.path!r} holds no IMU samples.")
    if np.any(np.diff(rec.t) < 0):
        bad = int(np.flatnonzero(np.diff(rec.t) < 0)[0]) + 1
        raise ValueError(f"The file {settings.path!r} has time going backward at sample {bad}; it cannot be replayed.")
    if not np.all(np.isfinite(rec.data)):
        bad = int(np.flatnonzero(~np.isfinite(rec.data).all(axis=1))[0])
        raise ValueError(f"The file {settings.path!r} has a non-finite IMU value at sample {bad}.")
    return rec


def _load_csv(settings: ReplaySettings) -> Recording:
    path = settings.path
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    header_row = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if header_row is None:
        raise ValueError(f"The CSV file {path!r} is empty.")
    header = lines[header_row]
    delimiter = next((d for d in (",", "\t", ";") if d in header), None)
    labels = [h.strip() for h in (header.split(delimiter) if delimiter else header.split())]
    if all(_is_number(lab) for lab in labels):
        raise ValueError(
            f"The CSV file {path!r} has no header row; add one naming the columns, e.g. "
            f"'time,{','.join(IMU_CHANNELS)}'."
        )
    body = [line for line in lines[header_row + 1:] if line.strip() and not line.lstrip().startswith("#")]
    try:
        table = np.loadtxt(body, delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"The CSV file {path!r} has a row that is not numeric: {err}") from err
    if table.shape[0] and table.shape[1] != len(labels):
        raise ValueError(f"The CSV file {path!r} has {table.shape[1]} values per row but {len(labels)} header labels.")
    lower = [lab.lower() for lab in labels]
    t_col = next((lower.index(name) for name in TIME_COLUMNS if name in lower), None)
    candidates = [i for i in range(len(labels)) if i != t_col]
    try:
        picked = select_channels([labels[i] for i in candidates], settings.channels)
    except ValueError as err:
        raise ValueError(f"CSV file {path!r}: {err}") from err
    cols = [candidates[i] for i in picked]
    scale = np.array([settings.acc_scale] * 3 + [settings.gyro_scale] * 3)
    data = np.ascontiguousarray(table[:, cols] * scale, np.float32)
    if t_col is not None:
        t = table[:, t_col] - table[0, t_col] if table.shape[0] else np.zeros(0)
        dt = np.diff(t)
        if np.any(dt < 0):
            bad = int(np.flatnonzero(dt < 0)[0]) + 1
            raise ValueError(f"The file {path!r} has time going backward at sample {bad}; it cannot be replayed.")
        fs = 1.0 / float(np.median(dt)) if dt.size and np.median(dt) > 0 else 0.0
        if not fs:
            raise ValueError(f"The CSV file {path!r} has too few distinct times to tell its rate.")
    else:
        if settings.fs is None:
            raise ValueError(
                f"The CSV file {path!r} has no time column ({', '.join(TIME_COLUMNS)}); pass its rate with --imu-rate."
            )
        fs = float(settings.fs)
        t = np.arange(table.shape[0], dtype=np.float64) / fs
    aux = {labels[i]: table[:, i].copy() for i in range(len(labels)) if i not in cols and i != t_col and labels[i]}
    return Recording(data, t, float(fs), aux)


def _load_xdf(settings: ReplaySettings) -> Recording:
    import pyxdf  # deferred: pyxdf only for XDF recordings

    query: dict[str, str] = {}
    if settings.stream_name:
        query["name"] = settings.stream_name
    if settings.stream_type:
        query["type"] = settings.stream_type
    if not query:
        query["type"] = "IMU"
    streams, _ = pyxdf.load_xdf(settings.path, select_streams=[query])
    numeric = [s for s in streams if isinstance(s["time_series"], np.ndarray) and s["time_series"].ndim == 2]
    if not numeric:
        everything, _ = pyxdf.load_xdf(settings.path)
        names = ", ".join(f"{s['info']['name'][0]} ({s['info']['type'][0]})" for s in everything) or "none"
        raise ValueError(
            f"The XDF file {settings.path!r} has no numeric stream with {query} (streams: {names}). "
            f"Choose one with --stream-name/--stream-type."
        )
    stream = numeric[0]
    info = stream["info"]
    labels, units = [], []
    try:
        for ch in info["desc"][0]["channels"][0]["channel"]:
            labels.append((ch.get("label") or [""])[0] or "")
            units.append((ch.get("unit") or [""])[0] or "")
    except (KeyError, IndexError, TypeError):
        pass
    n_ch = stream["time_series"].shape[1]
    labels = (labels + [""] * n_ch)[:n_ch]
    units = (units + [""] * n_ch)[:n_ch]
    try:
        cols = select_channels(labels, settings.channels)
    except ValueError as err:
        raise ValueError(f"XDF file {settings.path!r}, stream {info['name'][0]!r}: {err}") from err
    series = np.asarray(stream["time_series"], np.float64)
    data = np.ascontiguousarray(series[:, cols] * unit_scales(units, cols), np.float32)
    stamps = np.asarray(stream["time_stamps"], np.float64)
    t = stamps - stamps[0] if stamps.size else stamps
    fs = float(info["nominal_srate"][0]) or float(info.get("effective_srate", 0.0) or 0.0)
    if not fs:
        dt = np.diff(t)
        fs = 1.0 / float(np.median(dt)) if dt.size and np.median(dt) > 0 else 1.0
    aux = {labels[i]: series[:, i].copy() for i in range(n_ch) if i not in cols and labels[i]}
    return Recording(data, t, fs, aux)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ReplaySource(Lifecycle):
    """A recorded file played back as an IMU source (``realtime.core.contract.Source``; a
    :class:`~realtime.core.lifecycle.Lifecycle` part).

    The file is loaded by the constructor, so a bad file fails before anything
    starts. ``read()`` never blocks and returns every sample due since the last
    call; ``Block.fs`` is the file's rate times ``speed``; other numeric
    columns come in ``Block.aux``.

    Parameters
    ----------
    settings : ReplaySettings
        File, speed, loop.
    clock : Callable[[], float] | None
        The LSL clock (default ``pylsl.local_clock``).
    """

    def __init__(self, settings: ReplaySettings, clock: Callable[[], float] | None = None) -> None:
        check_type("settings", settings, ReplaySettings, "a ReplaySettings")
        super().__init__()
        if clock is None:
            clock = pylsl.local_clock
        self.settings = settings
        self.recording = load_recording(settings)
        self._clock = clock
        self._t_start = 0.0
        self._delivered = 0
        self._finished_reported = False
        rec = self.recording
        self._period = float(rec.t[-1] + 1.0 / rec.fs)
        self._aux_shapes = {k: () for k in rec.aux}
        logger.info("ReplaySource: %s: %s samples at %.3g Hz (%.1f s)", settings.path, rec.data.shape[0], rec.fs,
                    self._period)

    @property
    def fs(self) -> float:
        """Rate of the replayed samples on the clock: the file's rate times ``speed``."""
        return self.recording.fs * self.settings.speed

    @property
    def finished(self) -> bool:
        """Whether every sample has been returned (never for a looping replay)."""
        return not self.settings.loop and self._delivered >= self.recording.data.shape[0]

    def _open(self) -> None:
        """Start playing from the first sample, which is due now."""
        self._t_start = float(self._clock())
        self._delivered = 0
        self._finished_reported = False

    def _due(self, now: float) -> int:
        """Number of samples due at clock time ``now`` (over all loops)."""
        elapsed = (now - self._t_start) * self.settings.speed
        if elapsed < 0:
            return 0
        n = self.recording.data.shape[0]
        if not self.settings.loop:
            return int(np.searchsorted(self.recording.t, elapsed, side="right"))
        loops = int(elapsed // self._period)
        within = elapsed - loops * self._period
        return loops * n + int(np.searchsorted(self.recording.t, within, side="right"))

    def read(self) -> Block:
        """Return every sample due since the last call (an empty block if none); never blocks."""
        if not self._started:
            self._check_started("read()")
        rec = self.recording
        n_file = rec.data.shape[0]
        due = self._due(float(self._clock()))
        k0 = self._delivered
        if due <= k0:
            blk = empty_block(IMU_CHANNELS, self.fs, k0, self._aux_shapes)
            if self.finished and not self._finished_reported:
                self._finished_reported = True
                text = f"replay finished: {self.settings.path} ({n_file} samples)"
                blk = blk.replace(events={"source_events": (text,)})
            return blk
        k = np.arange(k0, due, dtype=np.int64)
        idx = k % n_file
        loop = k // n_file
        timestamps = self._t_start + (loop * self._period + rec.t[idx]) / self.settings.speed
        data = rec.data[idx] if (idx[0] + k.size > n_file) else rec.data[idx[0]: idx[0] + k.size]
        aux = {name: values[idx] for name, values in rec.aux.items()}
        self._delivered = due
        return Block(np.ascontiguousarray(data), timestamps, self.fs, k0, IMU_CHANNELS, aux, NO_EVENTS)

    @property
    def output_format(self) -> StreamFormat:
        """IMU blocks at the recording's rate with its aux columns; ``events["source_events"]`` says
        ``"replay finished: ..."`` once."""
        return StreamFormat(fs=self.fs, channels=IMU_CHANNELS, aux={k: 0 for k in self.recording.aux})

    @property
    def status(self) -> SourceStatus:
        """A snapshot in the same form as the device sources."""
        return SourceStatus(
            name=f"replay {self.settings.path}", connected=self._started and not self.finished,
            samples=self._delivered, frames_ok=0, crc_errors=0, malformed=0, text_lines=0, bytes_skipped=0,
            seq_gaps=0, samples_lost=0, reconnects=0, rate_hz=self.fs if self._started and not self.finished else 0.0,
            last_error="",
        )

    def status_line(self) -> str:
        """One human-readable line."""
        return self.status.line()
