"""Training and evaluation data: physics-teacher recordings, CSV and XDF recordings, EMG envelopes.

Everything ends up as :class:`Sequence` objects: one recording (never two
stitched together) on the model's grid, with the IMU input passed through the
same causal resampler that runs at run time (:mod:`realtime.stages.model.resample`).

EMG targets (recordings)
------------------------
Each EMG channel becomes an envelope at the recording's own EMG rate ``fs``:

1. high-pass, 4th-order Butterworth, zero-phase, corner ``min(20 Hz, 0.1 fs)``
   (removes offset and motion artefact);
2. full-wave rectification;
3. low-pass, 4th-order Butterworth, zero-phase, corner ``min(5 Hz, 0.025 fs)``;
4. linear interpolation onto the model grid (only where both streams overlap);
5. division by a per-channel scale, the 99th percentile of that channel's
   envelope over all *training* recordings (stored in the checkpoint as
   ``target_scale`` and reused for evaluation), then clipping to [0, 1].

At 2 kHz the corners are 20 Hz / 5 Hz; a 200 Hz armband gets the same corners;
a 100 Hz stream gets 10 Hz / 2.5 Hz.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from collections.abc import Sequence as SequenceT
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devices.replay import TIME_COLUMNS
from realtime.body.musculoskeletal import ArmParams
from realtime.body.synthetic import MOTIONS, SyntheticSettings, simulate
from realtime.core.anatomy import JOINTS, MUSCLES
from realtime.core.checks import check_type
from realtime.core.logs import logger
from realtime.core.units import STANDARD_GRAVITY
from realtime.stages.model.resample import resample_imu

ACC_UNITS = {"m/s2": 1.0, "g": STANDARD_GRAVITY}
GYRO_UNITS = {"rad/s": 1.0, "deg/s": math.pi / 180.0}


MIN_SEQUENCE = 2
"""Fewest model samples of a training or held-out sequence (shorter than the receptive field is fine:
the streaming model and training both prime with the first sample)."""


class DataError(ValueError):
    """Input data (files, columns, streams, values) that cannot be used, with the fix in the message."""


@dataclass(frozen=True)
class Recording:
    """One raw recording: IMU samples in SI units and EMG samples, each with its own timestamps.

    Parameters
    ----------
    name : str
        Where it came from (file name).
    t_imu : ndarray, shape (n,)
        IMU timestamps (s).
    imu : ndarray, shape (n, 6)
        Accelerometer (m/s²) then gyroscope (rad/s).
    t_emg : ndarray, shape (m,)
        EMG timestamps (s).
    emg : ndarray, shape (m, n_emg)
        Raw EMG.
    emg_fs : float
        EMG rate (Hz) used for the envelope filters.
    emg_names : tuple of str
        EMG channel labels.
    imu_fs : float
        IMU rate (Hz).
    layout : str
        The EMG stream's electrode layout when the file says (a myostream
        recording's ``desc/layout/name``, e.g. ``armband8``), else ``""``.
    """

    name: str
    t_imu: np.ndarray
    imu: np.ndarray
    t_emg: np.ndarray
    emg: np.ndarray
    emg_fs: float
    emg_names: tuple[str, ...]
    imu_fs: float
    layout: str = ""


@dataclass(frozen=True)
class Sequence:
    """One recording on the model grid: what training and evaluation consume.

    Parameters
    ----------
    name : str
        Recording label.
    x : ndarray, shape (T, 6), float32
        IMU resampled to the model rate (raw units; the network normalises).
    y : ndarray, shape (T, n_outputs), float32
        Targets in [0, 1] (teacher activations or normalised EMG envelopes).
    angles : ndarray, shape (T, 3) | None
        Joint angles (rad) when known (teacher data).
    input_fs : float
        The recording's IMU rate (Hz).
    group : str
        Subject / file identifier.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    angles: np.ndarray | None
    input_fs: float
    group: str = ""

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Dataset:
    """Training and validation sequences plus what the checkpoint must remember about them.

    Parameters
    ----------
    train, val : list of Sequence
        Disjoint recordings (or disjoint parts of recordings, never stitched).
        ``val`` selects the best epoch (early stopping).
    outputs : tuple of str
        Target names (muscles or EMG channels).
    posture : tuple of str
        Names of the angle columns (``()`` when there are none).
    target : str
        ``"teacher"`` or ``"emg-envelope"``.
    target_scale : tuple of float
        EMG envelope scales (``()`` for the teacher).
    input_fs_range : tuple of float
        Lowest and highest IMU rate in the data.
    description : dict
        How the data was made (for the checkpoint's ``training`` record).
    test : list of Sequence
        Recordings held out from training *and* from model selection (teacher
        data: their own subjects and programs); evaluation scores these when
        there are any, else ``val``.
    held_out_recordings : list of Recording
        The raw recordings behind the held-out sequences when those are whole
        files (for ``stream_r``, which replays them through the simulator).
    """

    train: list[Sequence]
    val: list[Sequence]
    outputs: tuple[str, ...]
    posture: tuple[str, ...]
    target: str
    target_scale: tuple[float, ...] = ()
    input_fs_range: tuple[float, float] = (100.0, 100.0)
    description: dict = field(default_factory=dict)
    test: list[Sequence] = field(default_factory=list)
    held_out_recordings: list[Recording] = field(default_factory=list)

    @property
    def held_out(self) -> list[Sequence]:
        """The sequences evaluation scores: ``test`` when there is one, else ``val``."""
        return self.test or self.val


# --------------------------------------------------------------------------- helpers
def check_finite(name: str, what: str, arr: np.ndarray, columns: SequenceT[str] | None = None) -> None:
    """Raise :class:`DataError` naming the first NaN/inf in ``arr`` (row, column)."""
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad.reshape(arr.shape[0], -1))[0])
        label = columns[col] if columns is not None and col < len(columns) else f"#{col}"
        raise DataError(
            f"{name}: {what} contain {int(bad.sum())} NaN/inf values (first at sample {row}, column {label!r}). "
            "Clean the recording (drop or interpolate those samples) and try again."
        )


def to_si(imu: np.ndarray, acc_unit: str, gyro_unit: str) -> np.ndarray:
    """Convert accelerometer and gyroscope columns to m/s² and rad/s.

    Parameters
    ----------
    imu : ndarray, shape (n, 6)
        Accelerometer x, y, z then gyroscope x, y, z.
    acc_unit : {"m/s2", "g"}
    gyro_unit : {"rad/s", "deg/s"}
    """
    if acc_unit not in ACC_UNITS:
        raise DataError(f"The option '--acc-unit' must be one of {sorted(ACC_UNITS)}. {acc_unit!r} is invalid.")
    if gyro_unit not in GYRO_UNITS:
        raise DataError(f"The option '--gyro-unit' must be one of {sorted(GYRO_UNITS)}. {gyro_unit!r} is invalid.")
    out = np.array(imu, np.float64)
    out[:, :3] *= ACC_UNITS[acc_unit]
    out[:, 3:] *= GYRO_UNITS[gyro_unit]
    return out


def envelope_corners(fs: float) -> tuple[float, float]:
    """High-pass and low-pass corners (Hz) of the EMG envelope at rate ``fs`` (see module docs)."""
    return min(20.0, 0.1 * fs), min(5.0, 0.025 * fs)


def emg_envelope(emg: np.ndarray, fs: float) -> np.ndarray:
    """Unscaled EMG envelope: zero-phase high-pass, rectify, zero-phase low-pass (see module docs).

    Parameters
    ----------
    emg : ndarray, shape (n, n_channels)
        Raw EMG.
    fs : float
        Its rate in Hz.

    Returns
    -------
    ndarray, shape (n, n_channels), float64, >= 0
    """
    # deferred: scipy.signal (~1 s to import) only for EMG recordings
    from scipy.signal import butter, sosfiltfilt

    if not fs > 0:
        raise DataError(f"The EMG rate must be > 0 Hz. {fs!r} is invalid.")
    hp, lp = envelope_corners(fs)
    emg = np.asarray(emg, np.float64)
    min_len = int(math.ceil(3 * fs / lp)) + 30
    if emg.shape[0] < min_len:
        raise DataError(
            f"The EMG has {emg.shape[0]} samples at {fs:g} Hz; its envelope needs at least {min_len} "
            f"({min_len / fs:.1f} s). Use longer recordings."
        )
    sos_hp = butter(4, hp, "highpass", fs=fs, output="sos")
    sos_lp = butter(4, lp, "lowpass", fs=fs, output="sos")
    env = sosfiltfilt(sos_lp, np.abs(sosfiltfilt(sos_hp, emg, axis=0)), axis=0)
    return np.maximum(env, 0.0)


def _estimate_fs(t: np.ndarray, nominal: float) -> float:
    if nominal > 0:
        return float(nominal)
    dt = np.diff(t)
    dt = dt[dt > 0]
    if dt.size == 0:
        raise DataError("Cannot estimate a sampling rate from timestamps that do not advance.")
    return float(1.0 / np.median(dt))


def _resolve_columns(option: str, wanted: SequenceT[str], header: list[str] | None, n_cols: int, where: str) -> list[int]:
    """Map column names or 0-based indices to indices; raise naming the missing ones."""
    idx = []
    for w in wanted:
        w = str(w).strip()
        if header is not None and w in header:
            idx.append(header.index(w))
        elif w.lstrip("-").isdigit() and 0 <= int(w) < n_cols:
            idx.append(int(w))
        else:
            have = f"the columns are {header}" if header is not None else f"it has {n_cols} unnamed columns (use indices 0-{n_cols - 1})"
            raise DataError(f"{where}: the {option} column {w!r} does not exist; {have}. Fix {option}.")
    return idx


# --------------------------------------------------------------------------- CSV
def load_csv(
    path: str | Path,
    imu_cols: SequenceT[str],
    emg_cols: SequenceT[str],
    fs: float,
    acc_unit: str = "m/s2",
    gyro_unit: str = "rad/s",
) -> Recording:
    """Read one CSV recording with IMU and EMG columns sampled together at ``fs``.

    Parameters
    ----------
    path : str | Path
        A text file with one sample per row, separated by commas, semicolons or
        tabs, with an optional header row of column names.
    imu_cols : sequence of str
        Six columns (names or 0-based indices): accelerometer x, y, z, then gyroscope x, y, z.
    emg_cols : sequence of str
        One or more EMG columns (names or indices).
    fs : float | None
        Rate of the rows in Hz; may be ``None`` when the file has a time column.
    acc_unit, gyro_unit : str
        Units of the accelerometer (``m/s2`` or ``g``) and gyroscope (``rad/s`` or ``deg/s``).

    Returns
    -------
    Recording

    Notes
    -----
    A header column named like a time column (``t``, ``time``, ``timestamp`` ...,
    in seconds; :data:`devices.replay.TIME_COLUMNS`) times the rows exactly as
    ``--source replay`` does: the IMU keeps those times, the rate is
    ``1 / median(diff(t))``, and the EMG is linearly resampled onto a regular grid
    at that rate for its envelope filters. When that rate and ``fs`` differ by
    more than 1 % a one-line warning says so and the time column wins.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"The CSV file '{path}' does not exist. Check the path given to --csv.")
    if len(imu_cols) != 6:
        raise DataError(
            f"The option '--imu-cols' needs 6 columns (acc x y z, gyro x y z); {len(imu_cols)} given: {list(imu_cols)}."
        )
    if len(emg_cols) < 1:
        raise DataError("The option '--emg-cols' needs at least one EMG column.")
    if fs is not None and not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
        raise DataError(f"The option '--fs' must be the CSV's sampling rate in Hz (> 0). {fs!r} is invalid.")
    with path.open(newline="") as f:
        head = f.read(65536)
    if not head.strip():
        raise DataError(f"The CSV file '{path}' is empty.")
    try:
        dialect = csv.Sniffer().sniff(head.splitlines()[0] + "\n", delimiters=",;\t")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=delim))
    rows = [r for r in rows if any(c.strip() for c in r)]
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header = [c.strip() for c in rows[0]]
        rows = rows[1:]
    n_cols = len(header) if header is not None else len(rows[0]) if rows else 0
    ii = _resolve_columns("--imu-cols", imu_cols, header, n_cols, f"'{path}'")
    ie = _resolve_columns("--emg-cols", emg_cols, header, n_cols, f"'{path}'")
    cols = ii + ie
    data = np.empty((len(rows), len(cols)), np.float64)
    for r, row in enumerate(rows):
        try:
            data[r] = [float(row[c]) if row[c].strip() else np.nan for c in cols]
        except (ValueError, IndexError):
            line = r + 1 + (header is not None)
            raise DataError(
                f"'{path}' line {line}: cannot read the selected columns from {row!r}. "
                "Fix or remove that line."
            ) from None
    names = [header[c] if header is not None else str(c) for c in cols]
    check_finite(f"'{path}'", "the selected columns", data, names)
    lower = [h.lower() for h in header] if header is not None else []
    t_col = next((lower.index(n) for n in TIME_COLUMNS if n in lower and lower.index(n) not in cols), None)
    if t_col is None:
        if fs is None:
            raise DataError(
                f"'{path}' has no time column ({', '.join(TIME_COLUMNS)}); give its sampling rate with --fs HZ."
            )
        t = np.arange(len(rows)) / float(fs)
        return Recording(path.name, t, to_si(data[:, :6], acc_unit, gyro_unit), t, data[:, 6:], float(fs),
                         tuple(names[6:]), float(fs))
    t = _time_column(path, rows, t_col, header[t_col])
    fs_t = 1.0 / float(np.median(np.diff(t)))
    if fs is not None and abs(fs_t - fs) > 0.01 * fs:
        logger.warning(
            "'%s': its time column %r gives %.6g Hz, --fs says %.6g Hz; using the time column (as replay does).",
            path, header[t_col], fs_t, fs,
        )
    t_reg = t[0] + np.arange(int(math.floor((t[-1] - t[0]) * fs_t + 1e-9)) + 1) / fs_t
    emg = np.stack([np.interp(t_reg, t, data[:, 6 + j]) for j in range(data.shape[1] - 6)], axis=1)
    return Recording(path.name, t, to_si(data[:, :6], acc_unit, gyro_unit), t_reg, emg, fs_t,
                     tuple(names[6:]), fs_t)


def _time_column(path: Path, rows: list[list[str]], col: int, label: str) -> np.ndarray:
    """The time column (s) of a CSV, checked: finite, strictly increasing, at least two rows."""
    try:
        t = np.array([float(r[col]) for r in rows], np.float64)
    except (ValueError, IndexError):
        raise DataError(f"'{path}': the time column {label!r} holds a value that is not a number.") from None
    if t.size < 2 or not np.all(np.isfinite(t)):
        raise DataError(f"'{path}': the time column {label!r} needs at least two finite times.")
    dt = np.diff(t)
    if np.any(dt <= 0):
        bad = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise DataError(
            f"'{path}': the time column {label!r} does not increase at row {bad} (replay refuses it too). "
            "Fix the times or remove the column and give --fs."
        )
    return t


# --------------------------------------------------------------------------- XDF
def _stream_name(stream: dict) -> str:
    return str(stream["info"]["name"][0])


def _channel_labels(stream: dict, n: int) -> list[str]:
    try:
        chans = stream["info"]["desc"][0]["channels"][0]["channel"]
        labels = [str(c["label"][0]) for c in chans]
        if len(labels) == n:
            return labels
    except (KeyError, IndexError, TypeError):
        pass
    return [str(i) for i in range(n)]


def _stream_layout(stream: dict) -> str:
    try:
        return str(stream["info"]["desc"][0]["layout"][0]["name"][0])
    except (KeyError, IndexError, TypeError):
        return ""


def _default_stream(path: Path, streams: list[dict], kind: str, option: str) -> str:
    """The one stream of LSL type ``kind`` in the file (raises naming the candidates otherwise)."""
    hits = [_stream_name(s) for s in streams if str(s["info"]["type"][0]).lower() == kind.lower()]
    if len(hits) != 1:
        names = sorted(f"{_stream_name(s)} ({s['info']['type'][0]})" for s in streams)
        raise DataError(
            f"'{path}' has {len(hits)} streams of type {kind} ({hits}); name the one to use with {option} "
            f"(streams: {names})."
        )
    return hits[0]


def load_xdf(
    path: str | Path,
    imu_stream: str | None,
    emg_stream: str | None,
    imu_cols: SequenceT[str] | None = None,
    emg_cols: SequenceT[str] | None = None,
    acc_unit: str = "m/s2",
    gyro_unit: str = "rad/s",
) -> Recording:
    """Read one XDF recording with an IMU stream and an EMG stream (read with pyxdf).

    The streams keep their own timestamps (pyxdf's clock-offset correction and
    de-jittering applied); they are aligned by time when put on the model grid.

    Parameters
    ----------
    path : str | Path
        The ``.xdf`` file.
    imu_stream, emg_stream : str | None
        Stream names (``info/name``); ``None`` picks the file's only stream of
        type ``IMU`` / ``EMG`` (as a ``launch.py record`` file of myostream has).
    imu_cols : sequence of str | None
        Six IMU channels by label or index; default: the stream's first six channels.
    emg_cols : sequence of str | None
        EMG channels by label or index; default: all channels of the EMG stream.
    acc_unit, gyro_unit : str
        Units of the IMU stream.
    """
    import pyxdf  # deferred: pyxdf only for XDF recordings

    path = Path(path)
    if not path.is_file():
        raise DataError(f"The XDF file '{path}' does not exist. Check the path given to --xdf.")
    try:
        streams, _ = pyxdf.load_xdf(str(path))
    except Exception as err:  # noqa: BLE001 - pyxdf raises many kinds for a bad file
        raise DataError(f"'{path}' could not be read as XDF ({type(err).__name__}: {err}).") from None
    if not streams:
        raise DataError(f"'{path}' holds no streams: it is not a complete XDF recording. Check the file.")
    by_name = {_stream_name(s): s for s in streams}
    imu_stream = imu_stream or _default_stream(path, streams, "IMU", "--imu-stream")
    emg_stream = emg_stream or _default_stream(path, streams, "EMG", "--emg-stream")

    def pick(option: str, name: str) -> dict:
        if name not in by_name:
            raise DataError(
                f"'{path}': there is no stream named {name!r} (option {option}); "
                f"the file has {sorted(by_name)}."
            )
        s = by_name[name]
        ts = np.asarray(s["time_series"])
        if ts.ndim != 2 or ts.shape[0] == 0 or not np.issubdtype(ts.dtype, np.number):
            raise DataError(f"'{path}': the stream {name!r} holds no numeric samples.")
        return s

    si, se = pick("--imu-stream", imu_stream), pick("--emg-stream", emg_stream)
    xi, xe = np.asarray(si["time_series"], np.float64), np.asarray(se["time_series"], np.float64)
    li, le = _channel_labels(si, xi.shape[1]), _channel_labels(se, xe.shape[1])
    ii = _resolve_columns("--imu-cols", imu_cols, li, len(li), f"'{path}' stream {imu_stream!r}") if imu_cols else list(range(6))
    if len(ii) != 6 or xi.shape[1] < 6:
        raise DataError(
            f"'{path}': the IMU stream {imu_stream!r} needs 6 channels (acc x y z, gyro x y z); "
            f"it has {xi.shape[1]} ({li}). Select them with --imu-cols."
        )
    ie = _resolve_columns("--emg-cols", emg_cols, le, len(le), f"'{path}' stream {emg_stream!r}") if emg_cols else list(range(xe.shape[1]))
    imu, emg = xi[:, ii], xe[:, ie]
    t_imu, t_emg = np.asarray(si["time_stamps"], np.float64), np.asarray(se["time_stamps"], np.float64)
    check_finite(f"'{path}' stream {imu_stream!r}", "the IMU channels", imu, [li[i] for i in ii])
    check_finite(f"'{path}' stream {emg_stream!r}", "the EMG channels", emg, [le[i] for i in ie])
    return Recording(
        name=path.name,
        t_imu=t_imu,
        imu=to_si(imu, acc_unit, gyro_unit),
        t_emg=t_emg,
        emg=emg,
        emg_fs=_estimate_fs(t_emg, float(se["info"]["nominal_srate"][0])),
        emg_names=tuple(le[i] for i in ie),
        imu_fs=_estimate_fs(t_imu, float(si["info"]["nominal_srate"][0])),
        layout=_stream_layout(se),
    )


# --------------------------------------------------------------------------- recordings -> sequences
def recording_envelope_on_grid(
    rec: Recording, model_fs: float, cutoff_hz: float | None, min_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """IMU on the model grid and the unscaled EMG envelope interpolated onto it (overlap only).

    Returns
    -------
    x : ndarray, shape (T, 6), float32
    env : ndarray, shape (T, n_emg), float64
    """
    t_grid, x = resample_imu(rec.t_imu, rec.imu, model_fs, cutoff_hz)
    env = emg_envelope(rec.emg, rec.emg_fs)
    keep = (t_grid >= rec.t_emg[0]) & (t_grid <= rec.t_emg[-1])
    if keep.sum() < min_samples:
        raise DataError(
            f"'{rec.name}': {int(keep.sum())} model samples ({keep.sum() / model_fs:.2f} s) where IMU and EMG "
            f"overlap, fewer than {min_samples}. Check that both streams cover the same time."
        )
    t_grid, x = t_grid[keep], x[keep]
    y = np.stack([np.interp(t_grid, rec.t_emg, env[:, j]) for j in range(env.shape[1])], axis=1)
    return x, y


def recordings_dataset(
    recordings: list[Recording],
    model_fs: float,
    cutoff_hz: float | None,
    receptive_field: int,
    val_fraction: float = 0.2,
    seed: int = 0,
    target_scale: tuple[float, ...] | None = None,
) -> Dataset:
    """Turn recordings into a :class:`Dataset` of EMG-envelope targets.

    With three or more recordings whole files are held out for validation
    (``ceil(val_fraction * n)``, chosen with ``seed``); with one or two, the
    last ``val_fraction`` of each recording is held out (a separate sequence,
    never joined to another file).

    Parameters
    ----------
    recordings : list of Recording
        Loaded with :func:`load_csv` / :func:`load_xdf`; all with the same EMG channel names.
    model_fs : float
        Model rate (Hz).
    cutoff_hz : float | None
        Anti-alias corner of the IMU resampler.
    receptive_field : int
        Network receptive field (model samples). Pieces may be shorter (training primes them with
        their first sample, as the streaming model does); only pieces under ``MIN_SEQUENCE`` are refused.
    val_fraction : float
        Share held out for validation (0 for none, e.g. evaluation-only use).
    seed : int
        Chooses the held-out files.
    target_scale : tuple of float | None
        Envelope scales to use (from a checkpoint); ``None`` computes them from the training part.
    """
    if not recordings:
        raise DataError("No recordings given. Pass files with --csv or --xdf.")
    names = recordings[0].emg_names
    for rec in recordings[1:]:
        if len(rec.emg_names) != len(names):
            raise DataError(
                f"'{rec.name}' has {len(rec.emg_names)} EMG channels, '{recordings[0].name}' has {len(names)}. "
                "Select the same channels in every file (--emg-cols)."
            )
    if not 0 <= val_fraction < 1:
        raise DataError(f"The option '--val-fraction' must be within [0, 1). {val_fraction!r} is invalid.")
    pieces: list[tuple[str, str, np.ndarray, np.ndarray, float, bool]] = []
    n = len(recordings)
    held = set()
    if n >= 3 and val_fraction > 0:
        order = np.random.default_rng(seed).permutation(n)
        held = set(order[: max(1, math.ceil(val_fraction * n))].tolist())
    for i, rec in enumerate(recordings):
        x, env = recording_envelope_on_grid(rec, model_fs, cutoff_hz, MIN_SEQUENCE)
        if n >= 3 or val_fraction == 0:
            pieces.append((rec.name, rec.name, x, env, rec.imu_fs, i in held))
        else:
            cut = int(round(len(x) * (1 - val_fraction)))
            for part, sl, is_val in (("train", slice(0, cut), False), ("val", slice(cut, None), True)):
                if len(x[sl]) < MIN_SEQUENCE:
                    raise DataError(
                        f"'{rec.name}': its {part} part has {len(x[sl])} model samples, fewer than {MIN_SEQUENCE}. "
                        "Use a longer recording or a smaller --val-fraction."
                    )
                pieces.append((f"{rec.name}[{part}]", rec.name, x[sl], env[sl], rec.imu_fs, is_val))
    if target_scale is None:
        train_env = [p[3] for p in pieces if not p[5]] or [p[3] for p in pieces]
        scale = np.percentile(np.concatenate(train_env), 99, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        scale = np.asarray(target_scale, np.float64)
        if scale.shape != (len(names),):
            raise DataError(f"{len(scale)} envelope scales for {len(names)} EMG channels: the checkpoint does not fit.")
    train, val = [], []
    for name, group, x, env, imu_fs, is_val in pieces:
        y = np.clip(env / scale, 0.0, 1.0).astype(np.float32)
        (val if is_val else train).append(Sequence(name, x, y, None, imu_fs, group))
    rates = [r.imu_fs for r in recordings]
    return Dataset(
        train=train,
        val=val,
        held_out_recordings=[r for i, r in enumerate(recordings) if i in held],
        outputs=tuple(names),
        posture=(),
        target="emg-envelope",
        target_scale=tuple(float(v) for v in scale),
        input_fs_range=(min(rates), max(rates)),
        description={
            "kind": "recordings",
            "layout": _common_layout(recordings),
            "files": [r.name for r in recordings],
            "train_files": sorted({s.group for s in train}),
            "val_files": sorted({s.name for s in val}),
            "val_fraction": val_fraction,
            "envelope": "zero-phase Butterworth-4 high-pass min(20, 0.1 fs) Hz, rectify, "
            "zero-phase Butterworth-4 low-pass min(5, 0.025 fs) Hz, / 99th percentile, clip [0, 1]",
        },
    )


def _common_layout(recordings: list[Recording]) -> str:
    """The EMG layout every recording states, or ``""`` when they do not all state the same one."""
    layouts = {r.layout for r in recordings}
    return layouts.pop() if len(layouts) == 1 else ""


def split_recordings_dataset(
    train_recordings: list[Recording],
    test_recordings: list[Recording],
    model_fs: float,
    cutoff_hz: float | None,
    receptive_field: int,
    target_scale: tuple[float, ...] | None = None,
) -> Dataset:
    """A :class:`Dataset` with an explicit split: fit on ``train_recordings``, score on ``test_recordings``.

    No file is in both parts, none is chosen at random, no part of a file is
    held out: ``train`` is every training file whole, ``test`` every test file
    whole, ``val`` is empty. The envelope scales are ``target_scale`` (a
    checkpoint's) or the 99th percentiles of the training files.

    Parameters
    ----------
    train_recordings, test_recordings : list of Recording
        Both non-empty, with the same EMG channel names.
    model_fs, cutoff_hz, receptive_field :
        As :func:`recordings_dataset`.
    target_scale : tuple of float | None
        Envelope scales to use; ``None`` computes them from the training files.
    """
    if not train_recordings:
        raise DataError("No training recordings for the split: give files with --train-csv or --train-xdf.")
    if not test_recordings:
        raise DataError("No recordings to score: give files with --csv or --xdf.")
    names = train_recordings[0].emg_names
    both = sorted({r.name for r in train_recordings} & {r.name for r in test_recordings})
    if both:
        raise DataError(f"The files {both} are given both to fit (--train-*) and to score (--csv/--xdf); "
                        "an honest split keeps them apart.")
    for rec in train_recordings + test_recordings:
        if tuple(rec.emg_names) != tuple(names):
            raise DataError(
                f"'{rec.name}' has EMG channels {list(rec.emg_names)}, '{train_recordings[0].name}' has "
                f"{list(names)}. Select the same channels in every file (--emg-cols)."
            )
    parts = {
        key: [(rec, *recording_envelope_on_grid(rec, model_fs, cutoff_hz, MIN_SEQUENCE)) for rec in recs]
        for key, recs in (("train", train_recordings), ("test", test_recordings))
    }
    if target_scale is None:
        scale = np.percentile(np.concatenate([env for _, _, env in parts["train"]]), 99, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        scale = np.asarray(target_scale, np.float64)
        if scale.shape != (len(names),):
            raise DataError(f"{len(scale)} envelope scales for {len(names)} EMG channels: the checkpoint does not fit.")
    seqs = {
        key: [Sequence(rec.name, x, np.clip(env / scale, 0.0, 1.0).astype(np.float32), None, rec.imu_fs, rec.name)
              for rec, x, env in items]
        for key, items in parts.items()
    }
    rates = [r.imu_fs for r in train_recordings + test_recordings]
    return Dataset(
        train=seqs["train"],
        val=[],
        test=seqs["test"],
        held_out_recordings=list(test_recordings),
        outputs=tuple(names),
        posture=(),
        target="emg-envelope",
        target_scale=tuple(float(v) for v in scale),
        input_fs_range=(min(rates), max(rates)),
        description={
            "kind": "recordings",
            "layout": _common_layout(train_recordings),
            "split": "explicit",
            "train_files": [r.name for r in train_recordings],
            "test_files": [r.name for r in test_recordings],
            "files": [r.name for r in train_recordings + test_recordings],
        },
    )


# --------------------------------------------------------------------------- teacher data
@dataclass(frozen=True)
class TeacherDataSpec:
    """How to generate physics-teacher data.

    Every subject is a randomised arm (segment lengths and masses, sensor
    placement, noise and bias, hand loads) that performs every motion program
    with its own random speed, amplitude and seed. Training, validation and
    test subjects, and their programs, are drawn from three separate random
    streams, and no subject or program seed is used twice: the validation
    subjects (early stopping) and the test subjects (evaluation only) are
    unseen in training, and the test subjects are unseen in model selection too.

    Parameters
    ----------
    subjects : int
        Training subjects.
    val_subjects : int
        Held-out subjects for early stopping (model selection).
    test_subjects : int
        Held-out subjects for evaluation only (0 = evaluate on the validation subjects).
    duration_s : float
        Seconds per recording.
    motions : tuple of str
        Motion programs (``realtime.body.synthetic.MOTIONS``); empty = all.
    imu_rates : tuple of float
        IMU rates drawn per recording (Hz, 50-1000).
    seed : int
        Master seed.
    """

    subjects: int = 24
    val_subjects: int = 6
    test_subjects: int = 12
    duration_s: float = 30.0
    motions: tuple[str, ...] = ()
    imu_rates: tuple[float, ...] = (50.0, 100.0, 200.0, 500.0)
    seed: int = 0

    def __post_init__(self) -> None:
        for name, lo in (("subjects", 1), ("val_subjects", 0), ("test_subjects", 0)):
            v = check_type(f"--{name.replace('_', '-')}", getattr(self, name), int, "an integer")
            if v < lo:
                raise DataError(f"The option '--{name.replace('_', '-')}' must be an integer >= {lo}. {v!r} is invalid.")
        if not (math.isfinite(self.duration_s) and self.duration_s >= 2.0):
            raise DataError(f"The option '--duration' must be >= 2 seconds. {self.duration_s!r} is invalid.")
        if not self.imu_rates or any(not 50 <= r <= 1000 for r in self.imu_rates):
            raise DataError(f"The option '--imu-fs' takes rates within [50, 1000] Hz. {self.imu_rates!r} is invalid.")
        if self.motions:
            bad = [m for m in self.motions if m not in MOTIONS]
            if bad:
                raise DataError(f"Unknown motions {bad}; the motions are {list(MOTIONS)}. Fix --motions.")


def subject_settings(subject_seed: int) -> dict:
    """Randomised subject: arm (lengths, masses, damping, shoulder posture, hand load), strap and IMU quality.

    Returns keyword arguments of ``realtime.body.synthetic.SyntheticSettings``
    shared by every program of one subject.
    """
    rng = np.random.default_rng(subject_seed)
    load = float(rng.uniform(0.0, 0.5)) if rng.random() < 0.3 else 0.0
    arm = ArmParams.randomised(rng, load_kg=load, shoulder_flexion=float(rng.uniform(-0.2, 0.4)))
    return {
        "arm": arm,
        "sensor_position": float(rng.uniform(0.5, 0.85)),
        "sensor_offset": float(rng.uniform(0.01, 0.05)),
        "sensor_rotation": tuple(float(v) for v in rng.uniform(-10.0, 10.0, 3)),
        "acc_noise": float(rng.uniform(0.01, 0.05)),
        "gyro_noise": float(rng.uniform(0.002, 0.01)),
        "acc_bias": float(rng.uniform(0.02, 0.1)),
        "gyro_bias": float(rng.uniform(0.005, 0.02)),
    }


def program_settings(motion: str, program_seed: int, imu_fs: float) -> dict:
    """Randomised motion program: speed, amplitude and the program's own seed."""
    rng = np.random.default_rng(program_seed)
    return {
        "motion": motion,
        "fs": float(imu_fs),
        "speed": float(rng.uniform(0.6, 1.6)),
        "amplitude": float(rng.uniform(0.5, 1.0)),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


def teacher_recording(motion: str, subject_seed: int, program_seed: int, imu_fs: float, duration_s: float):  # noqa: ANN201
    """Simulate one randomised teacher recording (``realtime.body.synthetic.SimulatedRecording``)."""
    settings = SyntheticSettings(**subject_settings(subject_seed), **program_settings(motion, program_seed, imu_fs))
    return simulate(settings, duration_s)


def teacher_dataset(
    spec: TeacherDataSpec,
    model_fs: float,
    cutoff_hz: float | None,
    receptive_field: int,
    progress: Callable[[int, int], None] | None = None,
) -> Dataset:
    """Generate a :class:`Dataset` with the physics teacher (``realtime.body.synthetic``).

    Parameters
    ----------
    spec : TeacherDataSpec
        Subjects, programs, durations, rates, seed.
    model_fs : float
        Model rate (Hz).
    cutoff_hz : float | None
        Anti-alias corner of the IMU resampler.
    receptive_field : int
        Network receptive field (model samples): shorter recordings are refused.
    progress : callable(done, total) | None
        Called after each recording.
    """
    motions = spec.motions or tuple(MOTIONS)
    if spec.duration_s * model_fs < receptive_field:
        raise DataError(
            f"The option '--duration' ({spec.duration_s:g} s) is shorter than the receptive field "
            f"({receptive_field / model_fs:.2f} s). Use a longer duration."
        )
    jobs = []
    used: set[int] = set()

    def fresh(rng: np.random.Generator) -> int:
        # A seed never serves two subjects or two programs, across all three splits.
        while True:
            v = int(rng.integers(0, 2**31 - 1))
            if v not in used:
                used.add(v)
                return v

    splits = (("train", spec.subjects, 1), ("val", spec.val_subjects, 2), ("test", spec.test_subjects, 3))
    for split, n_subj, stream in splits:
        rng = np.random.default_rng([spec.seed, stream])
        for s in range(n_subj):
            arm_seed = fresh(rng)
            for m in motions:
                prog_seed = fresh(rng)
                imu_fs = float(rng.choice(spec.imu_rates))
                jobs.append((split, f"{split}-s{s:02d}", m, prog_seed, imu_fs, arm_seed))
    out: dict[str, list[Sequence]] = {"train": [], "val": [], "test": []}
    for i, (split, subject, motion, prog_seed, imu_fs, arm_seed) in enumerate(jobs):
        rec = teacher_recording(motion, arm_seed, prog_seed, imu_fs, spec.duration_s)
        out[split].append(teacher_sequence(rec, f"{subject}-{motion}", subject, imu_fs, model_fs, cutoff_hz))
        if progress is not None:
            progress(i + 1, len(jobs))
    return Dataset(
        train=out["train"],
        val=out["val"],
        test=out["test"],
        outputs=tuple(MUSCLES),
        posture=tuple(JOINTS),
        target="teacher",
        input_fs_range=(min(spec.imu_rates), max(spec.imu_rates)),
        description={
            "kind": "teacher",
            "subjects": spec.subjects,
            "val_subjects": spec.val_subjects,
            "test_subjects": spec.test_subjects,
            "duration_s": spec.duration_s,
            "motions": list(motions),
            "imu_rates": list(spec.imu_rates),
            "seed": spec.seed,
        },
    )


def teacher_sequence(rec, name: str, group: str, imu_fs: float, model_fs: float, cutoff_hz: float | None) -> Sequence:  # noqa: ANN001
    """Put one simulated recording (``SimulatedRecording``) on the model grid."""
    t = np.asarray(rec.t, np.float64)
    t_grid, x = resample_imu(t, np.asarray(rec.imu), model_fs, cutoff_hz)
    y = np.stack([np.interp(t_grid, t, rec.activation[:, j]) for j in range(rec.activation.shape[1])], axis=1)
    ang = np.stack([np.interp(t_grid, t, rec.angles[:, j]) for j in range(rec.angles.shape[1])], axis=1)
    return Sequence(name, x, np.clip(y, 0, 1).astype(np.float32), ang.astype(np.float32), imu_fs, group)
