"""``bench soak``: one long session; rate drift, lost samples, late ticks and resident memory over time.

The same three processes as ``bench latency`` (IMU device, simulator,
consumer) run for ``duration`` seconds; the session samples the simulator's
resident memory. :func:`soak_figures` cuts the records into windows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from realtime.app.bench.analysis import emg_grid, rate_error_ppm, sample_indices
from realtime.app.bench.latency import figures_from_logs, machine_info
from realtime.app.bench.session import SessionConfig, SessionLogs, run_session
from realtime.app.provenance import EMG_INDEX

SOAK_TARGETS = {"rate_error_percent": 0.01, "lost_samples": 0, "rss_growth_mb": 10.0}
"""Issue targets for a 10-minute soak."""


def soak_figures(logs: SessionLogs, window_s: float | None = None) -> dict:
    """Windowed figures of a long session.

    Parameters
    ----------
    logs : SessionLogs
        The session's records.
    window_s : float | None
        Window length; default ``duration / 60`` (at least 5 s).

    Returns
    -------
    document : dict
        ``{"soak": {...}, "targets": {...}, "series": {...}}`` (times in seconds since the EMG start).
    """
    cfg = logs.config
    fs = cfg.fs
    figures = figures_from_logs(logs)
    s = figures.summary
    order = np.argsort(logs.prov_rows[:, EMG_INDEX], kind="stable")
    t0 = emg_grid(logs.prov_rows[order], logs.prov_ts[order], fs)
    index, _ = sample_indices(logs.emg_ts, t0, fs)
    index, first = np.unique(index, return_index=True)
    arrival = logs.emg_arrival[first]
    t_grid = index / fs
    span = float(t_grid[-1]) if t_grid.size else 0.0
    window = window_s if window_s is not None else max(span / 60.0, 5.0)
    edges = np.arange(0.0, span + window, window)
    win_t, win_ppm, drift_t, drift_ms, lost_t, lost = [], [], [], [], [], []
    d = arrival - (t0 + t_grid)
    lost_total = 0
    for a, b in zip(edges[:-1], edges[1:]):
        m = (t_grid >= a) & (t_grid < b)
        n_expected = int(np.ceil(b * fs) - np.ceil(a * fs))
        if b > span:
            n_expected = int(np.floor(span * fs) - np.ceil(a * fs) + 1)
        lost_total += max(n_expected - int(m.sum()), 0)
        lost_t.append(min(b, span))
        lost.append(lost_total)
        if m.sum() < 2:
            continue
        env, _ = rate_error_ppm(index[m], arrival[m], fs, edge_s=window / 4.0)
        win_t.append(0.5 * (a + b))
        win_ppm.append(env)
        drift_t.append(0.5 * (a + b))
        drift_ms.append(float(d[m].min() * 1e3))
    drift_ms = list(np.asarray(drift_ms) - (drift_ms[0] if drift_ms else 0.0))

    rss = logs.rss
    rss_t = rss[:, 0]  # seconds since the IMU was armed, a fraction of a second after the EMG start
    warm = rss_t >= cfg.warmup
    rss_w = rss[warm, 1] if warm.any() else rss[:, 1]
    rss_tw = rss_t[warm] if warm.any() else rss_t
    finite = np.isfinite(rss_w)
    if finite.sum() >= 2:
        rss_start, rss_end = float(rss_w[finite][0]), float(rss_w[finite][-1])
        slope = float(np.polyfit(rss_tw[finite], rss_w[finite], 1)[0]) * 3600.0
    else:
        rss_start = rss_end = slope = float("nan")
    growth = rss_end - rss_start

    status_t = (logs.status_ts - t0).tolist()
    late = logs.status_rows[:, 2].tolist() if logs.status_rows.size else []
    soak = {
        "source": cfg.source, "layout": cfg.layout, "fs": fs, "block": cfg.block, "imu_rate": cfg.imu_rate,
        "duration_s": cfg.duration, "warmup_s": cfg.warmup, "window_s": window,
        "rate_error_ppm": s["rate_error_ppm"], "rate_error_naive_ppm": s["rate_error_naive_ppm"],
        "window_rate_error_max_ppm": float(np.nanmax(np.abs(win_ppm))) if win_ppm else float("nan"),
        "lost_samples": s["lost_samples"], "late_ticks": s["late_ticks"], "late_ticks_total": s["late_ticks_total"],
        "rss_start_mb": rss_start, "rss_end_mb": rss_end, "rss_growth_mb": growth, "rss_slope_mb_per_h": slope,
        "timestamp_grid_error_us": s["timestamp_grid_error_us"], "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"],
        "row_p50_ms": s["row_p50_ms"], "samples_sent": s["samples_sent"], "samples_received": s["samples_received"],
    }
    met = {
        "rate": bool(abs(soak["rate_error_ppm"]) <= SOAK_TARGETS["rate_error_percent"] * 1e4),
        "lost": soak["lost_samples"] <= SOAK_TARGETS["lost_samples"],
        "rss": bool(np.isfinite(growth) and growth <= SOAK_TARGETS["rss_growth_mb"]),
    }
    series = {
        "window_t": win_t, "window_rate_ppm": win_ppm, "drift_t": drift_t, "drift_ms": drift_ms,
        "lost_t": lost_t, "lost": lost, "status_t": status_t, "late_ticks": late,
        "rss_t": rss_t.tolist(), "rss_mb": rss[:, 1].tolist(),
    }
    return {"soak": soak, "targets": {**SOAK_TARGETS, "met": met}, "series": series}


def run_soak(
    config: SessionConfig,
    workdir: Path | None = None,
    on_progress: Callable[[float], None] | None = None,
    rss_interval: float | None = None,
) -> dict:
    """Run one long session and return the soak document (see :func:`soak_figures`).

    Parameters
    ----------
    config : SessionConfig
        What to run (``duration`` is the soak length).
    workdir : Path | None
        Where the workers keep their records; a temporary folder if None.
    on_progress : Callable[[float], None] | None
        Called with the seconds run so far.
    rss_interval : float | None
        Seconds between memory samples (default: ``duration / 600``, 0.5 to 5 s).
    """
    start = machine_info()
    interval = rss_interval if rss_interval is not None else min(max(config.duration / 600.0, 0.5), 5.0)
    with tempfile.TemporaryDirectory(prefix="myostream-soak-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        logs = run_session(config, folder, progress=on_progress, rss_interval=interval)
    document = soak_figures(logs)
    document["machine"] = {"start": start, "end": machine_info()}
    return document
