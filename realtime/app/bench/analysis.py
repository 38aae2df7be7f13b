"""Latency, rate, grid and loss figures from what the workers of a session recorded (pure numpy).

Definitions (``docs/latency.md``):

- **Latency of IMU sample k**: from its creation (``imu_created[k]``, LSL
  clock) to the arrival at the consumer of the first EMG block whose
  provenance ``imu_seq`` is ``>= k``, i.e. the first EMG block that includes it
  (``realtime.app.provenance``). Blocks lost on the way are skipped: the next
  arriving block includes the sample too.
- **Row latency**: the same for the IMU samples that have an activation row of
  their own (the samples provenance names: with provisional rows the newest
  sample of each read, with grid rows only the samples that complete a
  model-grid point), i.e. without the wait for a row.
- **Stage breakdown** along the path of those samples: the row wait
  (creation of sample k to creation of the sample whose row first includes
  it: the newest sample of the same read with provisional rows, the sample
  completing the next model-grid point without them),
  IMU transport and wait for the runner's tick (creation to ``imu_read_time``),
  the runner's per-tick stage times (means over the run), and the EMG transport
  (``emg_push_time`` to arrival).
- **Rate error**: EMG samples received per second of the consumer's clock,
  relative to ``fs``, from the drift of the least delayed arrivals (the lower
  envelope of ``arrival - n / fs`` at the start and at the end of the run).
- **Timestamp grid error**: the largest ``|timestamp - (t0 + n / fs)|`` of the
  received EMG samples.
- **Tail**: the latency of every IMU sample splits exactly into four hops
  (:data:`HOPS`): the wait for a row, IMU transport and wait for the runner's
  tick, the runner's processing (read to push) and the EMG transport (push to
  arrival). ``tail_ms`` is their mean over the samples at or above the p99,
  ``tail_hop`` the largest of them: the hop that holds the tail.
- **Late ticks**: runner ticks that started more than one block period late,
  after the warm-up, also as a percentage of the ticks after the warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.app.provenance import (
    EMG_INDEX,
    EMG_PUSH_TIME,
    EMG_SAMPLES,
    IMU_READ_TIME,
    IMU_SEQ,
    IMU_TIME,
)

PERCENTILES: tuple[int, ...] = (50, 90, 99)

STAGE_KEYS: tuple[tuple[str, str], ...] = (
    ("source", "source_read"),
    ("activation", "model"),
    ("resample", "resampling"),
    ("engine", "engine"),
    ("post", "post"),
    ("output", "push"),
)
"""Runner counters (``RunnerStats.stage_ns`` keys) and the names the report gives them."""

HOPS: tuple[str, ...] = ("row_wait", "imu_transport_and_tick_wait", "processing", "emg_transport")
"""The four hops whose sum is a sample's latency (see the module docstring)."""


class AnalysisError(ValueError):
    """The records do not allow the measurement (e.g. no EMG block included any IMU sample)."""


@dataclass
class LatencyFigures:
    """Everything measured in one session.

    Attributes
    ----------
    summary : dict
        The JSON row of the configuration (latency percentiles in ms, lost
        samples, rate error, grid error, late ticks, stage breakdown ...).
    latency_ms : ndarray
        Latency of every IMU sample in the measurement window, ms.
    row_latency_ms : ndarray
        Latency of the IMU samples that have a row of their own (provenance names them), ms.
    """

    summary: dict
    latency_ms: np.ndarray
    row_latency_ms: np.ndarray


def percentiles_ms(values_s: np.ndarray, prefix: str = "") -> dict[str, float]:
    """p50/p90/p99/max/mean of ``values_s`` (seconds) in ms, keys ``<prefix>p50_ms`` ..."""
    if values_s.size == 0:
        return {f"{prefix}{k}_ms": float("nan") for k in ("p50", "p90", "p99", "max", "mean")}
    ms = values_s * 1e3
    out = {f"{prefix}p{p}_ms": float(np.percentile(ms, p)) for p in PERCENTILES}
    out[f"{prefix}max_ms"] = float(ms.max())
    out[f"{prefix}mean_ms"] = float(ms.mean())
    return out


def emg_grid(prov_rows: np.ndarray, prov_ts: np.ndarray, fs: float) -> float:
    """Timestamp ``t0`` of EMG sample 0, from the first provenance row (stamped with its block's last sample)."""
    if prov_rows.shape[0] == 0:
        raise AnalysisError("No provenance row was received: the consumer saw no EMG block.")
    first = prov_rows[0]
    return float(prov_ts[0] - (first[EMG_INDEX] + first[EMG_SAMPLES] - 1) / fs)


def sample_indices(emg_ts: np.ndarray, t0: float, fs: float) -> tuple[np.ndarray, float]:
    """EMG sample index of each timestamp and the largest distance to the grid ``t0 + n / fs`` (s)."""
    n = np.rint((emg_ts - t0) * fs).astype(np.int64)
    err = float(np.abs(emg_ts - (t0 + n / fs)).max()) if n.size else float("nan")
    return n, err


def rate_error_ppm(index: np.ndarray, arrival: np.ndarray, fs: float, edge_s: float = 2.0) -> tuple[float, float]:
    """Rate of the received stream relative to ``fs``, in parts per million.

    Parameters
    ----------
    index : ndarray of int
        EMG sample indices (increasing).
    arrival : ndarray
        Their arrival times (consumer clock).
    fs : float
        Nominal rate.
    edge_s : float
        Length of the start and end windows whose least delayed arrival is used.

    Returns
    -------
    envelope_ppm : float
        From the lower envelope of ``arrival - index / fs`` in the first and last
        ``edge_s`` seconds (robust to transport jitter): positive means more
        samples than ``fs`` per second.
    naive_ppm : float
        ``(samples received - 1) / (fs * (last arrival - first arrival)) - 1``.
    """
    if index.size < 2 or arrival[-1] <= arrival[0]:
        return float("nan"), float("nan")
    naive = (index.size - 1) / (fs * (arrival[-1] - arrival[0])) - 1.0
    t = index / fs
    d = arrival - t
    span = t[-1] - t[0]
    edge = min(edge_s, span / 4.0)
    head = t <= t[0] + edge
    tail = t >= t[-1] - edge
    i_head = np.flatnonzero(head)[np.argmin(d[head])]
    i_tail = np.flatnonzero(tail)[np.argmin(d[tail])]
    if t[i_tail] <= t[i_head]:
        return float("nan"), naive * 1e6
    slope = (d[i_tail] - d[i_head]) / (t[i_tail] - t[i_head])
    return float(-slope * 1e6), float(naive * 1e6)


def imu_timestamp_residual(prov_time: np.ndarray, prov_seq: np.ndarray, created: np.ndarray) -> float:
    """Median of ``imu_time - created[imu_seq]``: how the simulator's IMU timestamps sit on the device's.

    The session arms the device only after the simulator's source is open, so
    the simulator's IMU sample ``k`` *is* the device's sample ``k`` (LSL and
    serial links lose nothing and keep order); this residual is a check and a
    figure, not an alignment. LSL: the inlet's de-jittered time against the push
    time (small for a steady sender; a bursty sender shifts it for tens of
    seconds). Serial: the device clock mapped onto the LSL clock with the least
    transport delay seen, so a small positive value.
    """
    ok = (prov_seq >= 0) & (prov_seq < created.size)
    if not ok.any():
        return float("nan")
    return float(np.nanmedian(prov_time[ok] - created[prov_seq[ok]]))


def analyse(
    imu_created: np.ndarray,
    prov_rows: np.ndarray,
    prov_ts: np.ndarray,
    emg_ts: np.ndarray,
    emg_arrival: np.ndarray,
    fs: float,
    imu_rate: float,
    warmup: float,
    samples_sent: int,
    stage_ns: dict[str, int] | None = None,
    ticks: int = 0,
    status_rows: np.ndarray | None = None,
    status_ts: np.ndarray | None = None,
    late_ticks_total: int = 0,
    stage_max_ns: dict[str, int] | None = None,
) -> LatencyFigures:
    """Compute the figures of one session (see the module docstring).

    Parameters
    ----------
    imu_created : ndarray
        Creation time of every device IMU sample (NaN where unknown).
    prov_rows, prov_ts : ndarray
        Provenance rows and timestamps received by the consumer.
    emg_ts, emg_arrival : ndarray
        Timestamp and arrival time of every EMG sample received.
    fs, imu_rate : float
        EMG and IMU rates (Hz).
    warmup : float
        Seconds after the first IMU sample left out of every figure.
    samples_sent : int
        EMG samples the simulator produced (for the loss count).
    stage_ns : dict | None
        The runner's cumulative stage times; ``ticks`` their number of ticks.
    status_rows, status_ts : ndarray | None
        The status stream (late ticks over time).
    late_ticks_total : int
        Late ticks of the whole run (used when there is no status stream).
    stage_max_ns : dict | None
        The runner's longest tick per stage (``RunnerStats.stage_max_ns``).

    Returns
    -------
    LatencyFigures
    """
    if prov_rows.ndim != 2 or prov_rows.shape[1] != 6:
        raise AnalysisError(f"Provenance rows should have shape (n, 6), {prov_rows.shape} is invalid.")
    order = np.argsort(prov_rows[:, EMG_INDEX], kind="stable")
    prov_rows, prov_ts = prov_rows[order], prov_ts[order]
    all_push = prov_rows[:, EMG_PUSH_TIME]  # one provenance row per tick
    t0 = emg_grid(prov_rows, prov_ts, fs)
    index, grid_err = sample_indices(emg_ts, t0, fs)
    sort = np.argsort(index, kind="stable")
    index, arrival = index[sort], emg_arrival[sort]
    unique_index, first_pos = np.unique(index, return_index=True)
    lost = int(max(samples_sent - unique_index.size, 0))
    duplicates = int(index.size - unique_index.size)
    arrival_u = arrival[first_pos]

    # Arrival of each block = arrival of its last sample; a lost block takes the next arriving one.
    last = (prov_rows[:, EMG_INDEX] + prov_rows[:, EMG_SAMPLES] - 1).astype(np.int64)
    pos = np.searchsorted(unique_index, last)
    pos_c = np.minimum(pos, unique_index.size - 1)
    got = unique_index[pos_c] == last
    own_arrival = np.where(got, arrival_u[pos_c], np.nan)
    block_arrival = np.minimum.accumulate(np.where(got, own_arrival, np.inf)[::-1])[::-1]

    seq = prov_rows[:, IMU_SEQ].astype(np.int64)
    have = seq >= 0
    if not have.any():
        raise AnalysisError("No EMG block included an IMU sample: the IMU never reached the engine.")
    if np.any(np.diff(seq[have]) < 0):
        raise AnalysisError("The provenance sequence numbers go backwards; the records are inconsistent.")
    rows = prov_rows[have]
    seq, block_arrival, own_arrival = seq[have], block_arrival[have], own_arrival[have]
    # The device's sample k is the simulator's sample k (the device is armed once the simulator's source is
    # open; see imu_timestamp_residual, reported as a check).
    residual = imu_timestamp_residual(rows[:, IMU_TIME], seq, imu_created)
    seq = np.minimum(seq, imu_created.size - 1)  # (a sample the device log does not have cannot be named)
    created = imu_created
    t_start = float(np.nanmin(created)) + warmup

    # Per IMU sample: the first block whose provenance includes it.
    k = np.arange(created.size)
    r = np.searchsorted(seq, k, side="left")
    window = (created >= t_start) & (r < seq.size) & (k >= seq[0])
    window[window] &= np.isfinite(block_arrival[r[window]])
    k_w, r_w = k[window], r[window]
    latency = block_arrival[r_w] - created[k_w]
    row_wait = created[seq[r_w]] - created[k_w]
    hops = {  # they add up to `latency`, sample by sample
        "row_wait": row_wait,
        "imu_transport_and_tick_wait": rows[r_w, IMU_READ_TIME] - created[seq[r_w]],
        "processing": rows[r_w, EMG_PUSH_TIME] - rows[r_w, IMU_READ_TIME],
        "emg_transport": block_arrival[r_w] - rows[r_w, EMG_PUSH_TIME],
    }

    # Per completing sample (the first block naming it).
    first_row = np.concatenate([[True], np.diff(seq) > 0])
    fr = first_row & (created[seq] >= t_start) & np.isfinite(block_arrival)
    c_created = created[seq[fr]]
    row_latency = block_arrival[fr] - c_created
    imu_hop = rows[fr, IMU_READ_TIME] - c_created
    processing = rows[fr, EMG_PUSH_TIME] - rows[fr, IMU_READ_TIME]
    arrived = (rows[:, EMG_PUSH_TIME] >= t_start) & np.isfinite(own_arrival)
    transport = own_arrival[arrived] - rows[arrived, EMG_PUSH_TIME]

    # Rate over the measurement window, from the arrivals.
    w = arrival_u >= t_start
    rate_env, rate_naive = rate_error_ppm(unique_index[w], arrival_u[w], fs)

    late_window = late_ticks_total
    if status_rows is not None and status_ts is not None and status_rows.shape[0] >= 2:
        before = status_ts <= t_start
        start_val = status_rows[before, 2][-1] if before.any() else 0.0
        late_window = int(status_rows[-1, 2] - start_val)
        late_window = max(late_window, 0) + max(late_ticks_total - int(status_rows[-1, 2]), 0)

    ticks_window = int(np.count_nonzero(all_push >= t_start))
    tail = tail_breakdown(latency, hops)

    stages: dict[str, float] = {"row_wait": _median_ms(row_wait),
                                "imu_transport_and_tick_wait": _median_ms(imu_hop)}
    if stage_ns and ticks:
        for key, name in STAGE_KEYS:
            if key in stage_ns:
                stages[name] = stage_ns[key] / ticks * 1e-6
    stages["transport"] = _median_ms(transport)

    summary = {
        **percentiles_ms(latency),
        "n_latency_samples": int(latency.size),
        "min_ms": float(latency.min() * 1e3) if latency.size else float("nan"),
        "negative_latencies": int((latency < 0).sum()),
        **percentiles_ms(row_latency, "row_"),
        "n_row_samples": int(row_latency.size),
        "processing_p50_ms": _median_ms(processing),
        "transport_p50_ms": _median_ms(transport),
        "transport_p99_ms": float(np.percentile(transport, 99) * 1e3) if transport.size else float("nan"),
        "lost_samples": lost,
        "duplicate_samples": duplicates,
        "samples_sent": int(samples_sent),
        "samples_received": int(unique_index.size),
        "rate_error_ppm": rate_env,
        "rate_error_naive_ppm": rate_naive,
        "timestamp_grid_error_us": grid_err * 1e6,
        "late_ticks": int(late_window),
        "late_ticks_total": int(late_ticks_total),
        "ticks": ticks_window,
        "late_ticks_percent": 100.0 * late_window / ticks_window if ticks_window else float("nan"),
        "tail_ms": tail,
        "tail_hop": max(tail, key=tail.get) if tail and all(np.isfinite(list(tail.values()))) else "",
        "stage_max_ms": {name: stage_max_ns[key] * 1e-6 for key, name in STAGE_KEYS if key in stage_max_ns}
        if stage_max_ns else {},
        "imu_timestamp_residual_ms": residual * 1e3,
        "stages_ms": stages,
    }
    return LatencyFigures(summary, latency * 1e3, row_latency * 1e3)


def floor_figures(lateness: np.ndarray, period: float, warmup: float) -> dict[str, float]:
    """The machine's floor from the timer probe: how late a thread that only sleeps woke up, after the warm-up.

    Parameters
    ----------
    lateness : ndarray
        Lateness of each wake-up (s), one per ``period`` from the start (a stall skips wake-ups).
    period : float
        Seconds between wake-ups.
    warmup : float
        Seconds at the start left out.

    Returns
    -------
    dict
        ``p50_ms``, ``p99_ms``, ``p999_ms``, ``max_ms`` of the lateness, ``stalls_over_1ms`` and
        ``stalls_over_5ms`` (wake-ups later than that), ``wakeups``.
    """
    n_skip = int(warmup / period) if period > 0 else 0
    x = np.asarray(lateness, float)[n_skip:] * 1e3
    if x.size == 0:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "p999_ms": float("nan"), "max_ms": float("nan"),
                "stalls_over_1ms": 0, "stalls_over_5ms": 0, "wakeups": 0}
    return {"p50_ms": float(np.median(x)), "p99_ms": float(np.percentile(x, 99)),
            "p999_ms": float(np.percentile(x, 99.9)), "max_ms": float(x.max()),
            "stalls_over_1ms": int((x > 1.0).sum()), "stalls_over_5ms": int((x > 5.0).sum()), "wakeups": int(x.size)}


def tail_breakdown(latency: np.ndarray, hops: dict[str, np.ndarray], q: float = 99.0) -> dict[str, float]:
    """Mean of each hop (ms) over the samples whose latency is at or above its ``q``-th percentile.

    Parameters
    ----------
    latency : ndarray
        Latency of each sample (s).
    hops : dict of ndarray
        The parts of each sample's latency (s), same length; they add up to ``latency``.
    q : float
        Percentile that starts the tail.

    Returns
    -------
    dict
        ``{hop: ms}`` (NaN when there is no sample).
    """
    if latency.size == 0:
        return {k: float("nan") for k in hops}
    tail = latency >= np.percentile(latency, q)
    return {k: float(v[tail].mean() * 1e3) for k, v in hops.items()}


def _median_ms(values_s: np.ndarray) -> float:
    return float(np.median(values_s) * 1e3) if values_s.size else float("nan")
