"""``bench latency``: end-to-end latency over a sweep of configurations, three processes each.

For every configuration (EMG rate, block length, layout, IMU link) and
condition (the machine as it is, then with N busy competing processes:
``stress``) one session (:func:`realtime.app.bench.session.run_session`) runs an
IMU device process, the simulator and a consumer, scheduled as ``launch.py run``
schedules the simulator (``priority``, default ``"auto"``);
:func:`realtime.app.bench.analysis.analyse` turns the records into the figures. :func:`run_latency_bench` returns the JSON
document and the latency arrays the report plots.
"""

from __future__ import annotations

import itertools
import os
import platform
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.app.bench.analysis import LatencyFigures, analyse, floor_figures
from realtime.app.bench.session import SessionConfig, SessionLogs, run_session
from realtime.core.logs import logger
from realtime.core.priority import realtime_threads_elsewhere

SWEEP_FS: tuple[float, ...] = (1000.0, 2000.0)
SWEEP_BLOCKS: tuple[int, ...] = (1, 2, 5, 10, 20)
SWEEP_LAYOUTS: tuple[str, ...] = ("armband8", "grid64")
SWEEP_SOURCES: tuple[str, ...] = ("lsl", "serial")
QUICK = {"fs": (2000.0,), "block": (2,), "layout": SWEEP_LAYOUTS, "source": ("lsl",)}
"""``--quick``: the configurations the targets are stated for."""

TARGETS = {"fs": 2000.0, "max_block": 2, "source": "lsl", "p50_ms": 2.0, "p99_ms": 5.0, "late_ticks_percent": 0.1}
"""Targets: at 2 kHz, block <= 2, LSL source, quiet or under stress: end-to-end p50 <= 2 ms, p99 <= 5 ms,
late ticks <= 0.1 % of the ticks."""

RESIDUAL_TARGETS_MS: dict[str, tuple[float, float]] = {"lsl": (-0.5, 0.5), "serial": (-0.1, 2.0)}
"""Range of ``imu_timestamp_residual_ms`` (the simulator's IMU timestamp minus the device's creation
time, median) per source, every configuration. LSL: the timestamp is the device's push stamp itself;
serial: the device clock mapped onto the LSL clock with the least transport delay, so slightly after
creation."""


@dataclass
class ConfigResult:
    """One configuration and its figures."""

    config: SessionConfig
    figures: LatencyFigures


def sweep_configs(
    fs: Sequence[float] = SWEEP_FS,
    blocks: Sequence[int] = SWEEP_BLOCKS,
    layouts: Sequence[str] = SWEEP_LAYOUTS,
    sources: Sequence[str] = SWEEP_SOURCES,
    duration: float = 15.0,
    warmup: float = 2.0,
    imu_rate: float = 1000.0,
    units_per_muscle: int = 100,
    provisional: Sequence[bool] = (True,),
    stress: Sequence[int] = (0,),
    priority: str = "auto",
) -> list[SessionConfig]:
    """Every combination, sources outermost (so a partial run has whole groups), conditions innermost.

    ``provisional`` lists the network-stage modes to run (``(True, False)`` compares
    provisional rows with the grid-only stage); ``stress`` the conditions (busy processes,
    0 = quiet), run back to back for each configuration; ``priority`` the workers' scheduling.
    """
    return [
        SessionConfig(fs=float(f), block=int(b), layout=lay, source=src, imu_rate=imu_rate, duration=duration,
                      warmup=warmup, units_per_muscle=units_per_muscle, provisional=bool(p), stress=int(n),
                      priority=priority)
        for src, lay, f, b, p, n in itertools.product(sources, layouts, fs, blocks, provisional, stress)
    ]


def stress_conditions(n: int) -> tuple[int, ...]:
    """The conditions of a sweep with ``--stress n``: quiet, then ``n`` busy processes (quiet only if 0)."""
    if n < 0:
        raise ValueError(f"The argument 'stress' must be >= 0 busy processes (0 = off). {n!r} is invalid.")
    return (0,) if n == 0 else (0, int(n))


def row_label(row: dict) -> str:
    """The label of a JSON row, the same as its ``SessionConfig.label`` (``lsl armband8 2000 Hz block 2``)."""
    mode = "" if row.get("provisional", True) else " grid-only"
    stress = f" stress {row['stress']}" if row.get("stress") else ""
    return f"{row['source']} {row['layout']} {row['fs']:g} Hz block {row['block']}{mode}{stress}"


def figures_from_logs(logs: SessionLogs) -> LatencyFigures:
    """Analyse one session's records (see :func:`realtime.app.bench.analysis.analyse`)."""
    cfg, stats = logs.config, logs.sim_stats
    return analyse(
        logs.imu_created, logs.prov_rows, logs.prov_ts, logs.emg_ts, logs.emg_arrival, cfg.fs, cfg.imu_rate,
        cfg.warmup, stats["samples_sent"], stats.get("stage_ns"), stats.get("ticks", 0), logs.status_rows,
        logs.status_ts, stats.get("late_ticks", 0), stats.get("stage_max_ns"),
    )


def policy_label(scheduling: dict) -> str:
    """One line saying what the workers got, e.g. ``"sim SCHED_FIFO 10, memory locked; imu ...; consumer ..."``."""
    def lab(d: dict | None) -> str:
        return d.get("label", "?") if d else "?"

    sim = scheduling.get("sim") or {}
    return (f"sim runner {lab(sim.get('runner'))}, I/O threads {lab(sim.get('io'))}, main thread "
            f"{lab(sim.get('main'))}, memory {lab(sim.get('memory'))}; "
            f"imu {lab(scheduling.get('imu'))}; consumer {lab(scheduling.get('consumer'))}")


def config_row(cfg: SessionConfig, figures: LatencyFigures, wall_s: float, scheduling: dict | None = None,
               gc_stats: dict | None = None) -> dict:
    """The JSON row of one configuration and condition: the issue's keys first, then the details."""
    s = figures.summary
    scheduling = scheduling or {}
    row = {
        "fs": cfg.fs, "block": cfg.block, "layout": cfg.layout, "source": cfg.source,
        "condition": cfg.condition, "stress": cfg.stress,
        "p50_ms": s["p50_ms"], "p90_ms": s["p90_ms"], "p99_ms": s["p99_ms"], "max_ms": s["max_ms"],
        "lost_samples": s["lost_samples"], "rate_error_ppm": s["rate_error_ppm"], "late_ticks": s["late_ticks"],
        "late_ticks_percent": s["late_ticks_percent"], "tail_hop": s["tail_hop"],
        "priority": cfg.priority, "policy": policy_label(scheduling), "scheduling": scheduling,
        "gc": gc_stats or {},
        "imu_rate": cfg.imu_rate, "duration_s": cfg.duration, "warmup_s": cfg.warmup, "wall_s": wall_s,
        "units_per_muscle": cfg.units_per_muscle, "provisional": cfg.provisional,
    }
    row.update({k: v for k, v in s.items() if k not in row})
    return row


def machine_info() -> dict:
    """Where the numbers were measured (they depend on the machine and its load)."""
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    rt = realtime_threads_elsewhere()
    return {"host": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "load_avg": [round(x, 2) for x in load],
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "other_realtime_threads": len(rt), "other_realtime_processes": sorted({f"{t['pid']} {t['name']}" for t in rt})}


def run_latency_bench(
    configs: Sequence[SessionConfig],
    workdir: Path | None = None,
    on_start: Callable[[int, SessionConfig], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    on_done: Callable[[int, SessionConfig, dict], None] | None = None,
) -> tuple[dict, list[ConfigResult]]:
    """Run one session per configuration and collect the figures.

    Parameters
    ----------
    configs : sequence of SessionConfig
        What to run, in order.
    workdir : Path | None
        Where the workers keep their records (one folder per configuration);
        a temporary folder (deleted afterwards) if None.
    on_start, on_progress, on_done : callables | None
        Progress hooks: (index, config) before a session, seconds run during it,
        (index, config, JSON row) after it.

    Returns
    -------
    document : dict
        ``{"configs": [row, ...], "machine": {...}, "targets": {...}}``.
    results : list of ConfigResult
        The figures (latency arrays for the plots).
    """
    if not configs:
        raise ValueError("The argument 'configs' must list at least one configuration (check the filters).")
    start_load = machine_info()
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="myostream-latency-") as tmp:
        base = Path(workdir) if workdir is not None else Path(tmp)
        for i, cfg in enumerate(configs):
            if on_start is not None:
                on_start(i, cfg)
            folder = base / (f"{i:02d}_{cfg.source}_{cfg.layout}_{cfg.fs:g}_{cfg.block}"
                             f"{'' if cfg.provisional else '_grid'}{f'_stress{cfg.stress}' if cfg.stress else ''}")
            logs = run_session(cfg, folder, progress=on_progress)
            figures = figures_from_logs(logs)
            row = config_row(cfg, figures, logs.wall_s, logs.scheduling, logs.sim_stats.get("gc"))
            row["max_lateness_ms"] = logs.sim_stats.get("max_lateness_ms", float("nan"))
            row["floor"] = floor_figures(logs.floor_lateness, logs.floor_period, cfg.warmup)
            row["machine"] = {k: logs.extra.get(k) for k in ("load_avg_1min", "other_realtime_threads",
                                                              "other_realtime_processes")}
            logger.info("run_latency_bench: %s: %s", cfg.label, row)
            rows.append(row)
            results.append(ConfigResult(cfg, figures))
            if on_done is not None:
                on_done(i, cfg, row)
    document = {
        "configs": rows,
        "targets": {**TARGETS, "met": targets_met(rows),
                    "imu_timestamp_residual_ms": {k: list(v) for k, v in RESIDUAL_TARGETS_MS.items()},
                    "residual_met": residual_met(rows)},
        "priority": configs[0].priority,
        "conditions": sorted({c.condition for c in configs}, key=lambda c: (c != "quiet", c)),
        "machine": {"start": start_load, "end": machine_info()},
        "definitions": {
            "latency": "IMU sample creation (LSL: push time stamp; serial: device sample clock) to the arrival at "
                       "the consumer of the first EMG block whose provenance includes the sample",
            "row_latency": "the same for the IMU samples that have an activation row of their own (the samples "
                           "provenance names: with provisional rows the newest sample of each read, without them "
                           "the samples that complete a model-grid point), i.e. without the wait for a row",
            "provisional": "whether the network stage emitted provisional rows between model-grid points",
            "rate_error_ppm": "EMG samples per second of consumer clock vs fs, lower-envelope drift of arrivals",
            "late_ticks": "runner ticks started more than one block period late, after the warm-up",
            "late_ticks_percent": "late_ticks as a percentage of the runner's ticks after the warm-up",
            "condition": "quiet: the machine as it is; stress N: N busy competing processes (normal priority) "
                         "running during the session",
            "tail_ms": "mean of each hop (row wait, IMU transport and tick wait, processing, EMG transport; "
                       "they add up to the latency) over the samples at or above the p99",
            "tail_hop": "the largest hop of tail_ms: where the tail comes from",
            "stage_max_ms": "the runner's longest tick in each stage",
            "policy": "what each worker got from the priority mode (launch.py run --priority; default auto)",
            "floor": "the machine's floor: lateness of a thread that only sleeps one tick period, scheduled as the "
                     "runner (a fourth process), after the warm-up; its stalls are the machine's, not the simulator's",
        },
    }
    return document, results


def residual_met(rows: Sequence[dict]) -> dict[str, bool]:
    """For every row: whether its IMU timestamp residual is within :data:`RESIDUAL_TARGETS_MS` for its source."""
    out: dict[str, bool] = {}
    for r in rows:
        lo, hi = RESIDUAL_TARGETS_MS[r["source"]]
        value = r["imu_timestamp_residual_ms"]
        out[row_label(r)] = bool(np.isfinite(value) and lo <= value <= hi)
    return out


def targets_met(rows: Sequence[dict]) -> dict[str, bool | None]:
    """For each target configuration and condition in ``rows``: whether p50, p99 and late ticks meet the targets."""
    out: dict[str, bool | None] = {}
    for r in rows:
        if r["fs"] == TARGETS["fs"] and r["block"] <= TARGETS["max_block"] and r["source"] == TARGETS["source"]:
            key = row_label(r)
            late = r.get("late_ticks_percent", float("nan"))
            ok = bool(np.isfinite(r["p50_ms"]) and r["p50_ms"] <= TARGETS["p50_ms"] and r["p99_ms"] <= TARGETS["p99_ms"]
                      and np.isfinite(late) and late <= TARGETS["late_ticks_percent"])
            out[key] = ok
    return out
