"""Engine benchmark: streaming engine (static and dynamic MUAPs) vs the offline peers' per-unit ``np.convolve``.

:func:`run_engine_bench` returns a JSON-ready dict::

    {"configs": [{"layout", "muaps", "n_motor_units", "realtime_factor",
                  "numpy_realtime_factor", "speedup_vs_numpy", "table_mb",
                  "startup_cold_s", "startup_warm_s", ...}, ...],
     "targets": {...}, "load_average": [...], ...}

- ``realtime_factor``: seconds of signal per second of CPU time
  (``time.process_time``, numba on one thread) of :meth:`EmgEngine.process`
  fed blocks of ``block`` samples (spike generation included), the median of
  ``repeats`` runs. Every block carries joint angles that sweep each joint's
  whole range of motion (:func:`posture_sweep`, 0.17-0.31 Hz), so dynamic
  MUAPs blend across grid cells all the time.
- ``numpy_realtime_factor``: the same for the offline simulators' method:
  per motor unit and channel, ``np.convolve`` of the spike train with the
  MUAP, summed (:func:`~realtime.app.bench.reference.reference_emg`), on the
  same discharges and tables, over ``baseline_duration`` seconds, in the
  same run (once per layout; it does not depend on the MUAP mode).
- ``startup_cold_s`` / ``startup_warm_s``: wall time of a fresh process
  that imports the engine, builds it and calls ``reset``: cold with an empty
  MUAP cache (tables built), warm with the tables on disk; numba's kernel
  cache is filled in both. ``startup_first_run`` is the first process of the
  run, with both caches empty (kernels compiled too), as after installation
  (:func:`measure_startup`).

The machine may be shared: compare ratios measured in the same run, and see
``load_average``. Run it with ``python launch.py bench engine --json PATH``.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np

from realtime.app.bench.reference import reference_emg, spike_trains
from realtime.core.block import Block
from realtime.core.launcher import cli_environment
from realtime.core.logs import logger
from realtime.stages.engine.engine import Discharges, EmgEngine
from realtime.stages.engine.posture import POSTURE_RANGE
from realtime.stages.engine.settings import MUAP_MODES, EngineSettings

BENCH_MUSCLES: tuple[str, ...] = (
    "biceps",
    "brachialis",
    "brachioradialis",
    "triceps",
    "wrist_flexors",
    "wrist_extensors",
)
"""The six muscles of the benchmark (those named in the foundation issue)."""

TARGETS: dict[str, tuple[str, str, str, float]] = {
    "grid64_dynamic_realtime_factor": ("grid64", "dynamic", "realtime_factor", 20.0),
    "armband8_static_realtime_factor": ("armband8", "static", "realtime_factor", 200.0),
    "armband8_dynamic_realtime_factor": ("armband8", "dynamic", "realtime_factor", 200.0),
    "grid64_dynamic_speedup_vs_numpy": ("grid64", "dynamic", "speedup_vs_numpy", 50.0),
    "armband8_dynamic_speedup_vs_numpy": ("armband8", "dynamic", "speedup_vs_numpy", 50.0),
}
"""Issue 6 targets (minimums): name -> (layout, muaps, key, target)."""

MAX_TARGETS: dict[str, tuple[str, str, str, float]] = {
    "grid64_dynamic_table_mb": ("grid64", "dynamic", "table_mb", 256.0),
    "grid64_dynamic_startup_cold_s": ("grid64", "dynamic", "startup_cold_s", 30.0),
    "grid64_dynamic_startup_warm_s": ("grid64", "dynamic", "startup_warm_s", 3.0),
    "grid64_dynamic_tables_warm_over_cold": ("grid64", "dynamic", "tables_warm_over_cold", 0.5),
    "armband8_dynamic_tables_warm_over_cold": ("armband8", "dynamic", "tables_warm_over_cold", 0.5),
}
"""Issue 6 targets (maximums). ``tables_warm_over_cold``: the MUAP tables loaded from the cache (warm
start) take at most half the time of building them (cold start), both measured in the same run."""


def posture_sweep(n: int, fs: float) -> np.ndarray:
    """Joint angles ``(n, 3)`` float32 sweeping each joint's whole range (0.23, 0.31, 0.17 Hz)."""
    t = np.arange(n) / fs
    out = np.empty((n, 3), np.float32)
    for j, ((lo, hi), f) in enumerate(zip(POSTURE_RANGE, (0.23, 0.31, 0.17))):
        out[:, j] = (lo + hi) / 2 + (hi - lo) / 2 * np.sin(2 * np.pi * f * t)
    return out


def run_engine_bench(
    *,
    layouts: Sequence[str] = ("armband8", "grid64"),
    muaps: Sequence[str] = MUAP_MODES,
    muscles: Sequence[str] = BENCH_MUSCLES,
    units_per_muscle: int | None = None,
    drive: float = 0.6,
    fs: float = 2000.0,
    block: int = 4,
    duration: float = 10.0,
    baseline_duration: float = 1.0,
    repeats: int = 3,
    baseline_repeats: int = 3,
    seed: int = 0,
    startup: bool = True,
) -> dict[str, Any]:
    """Measure the engine's real-time factor, the ``np.convolve`` baseline and start-up times.

    Parameters
    ----------
    layouts : sequence of str
        Layouts to measure.
    muaps : sequence of str
        MUAP modes to measure for each layout (rows: layout x mode).
    muscles : sequence of str
        Muscles simulated (default: :data:`BENCH_MUSCLES`).
    units_per_muscle : int | None
        Motor units per muscle; ``None``: each muscle's published count
        (:data:`~realtime.stages.engine.muscles.MOTOR_UNITS`, 2,907 units for the six muscles).
    drive : float
        Constant activation of every muscle (0-1).
    fs : float
        Engine rate (Hz).
    block : int
        Samples per ``process`` call.
    duration : float
        Seconds of signal per timed streaming run.
    baseline_duration : float
        Seconds of signal for the ``np.convolve`` baseline.
    repeats, baseline_repeats : int
        Timed runs of each; medians are reported.
    seed : int
        Engine seed.
    startup : bool
        Also measure cold and warm start-up in fresh processes (:func:`measure_startup`).

    Returns
    -------
    dict
        ``{"configs": [...], "targets": {...}, "numba_threads": 1, "load_average": [...], "settings": {...}}``.
    """
    if block < 1 or duration <= 0 or baseline_duration <= 0 or repeats < 1 or baseline_repeats < 1:
        raise ValueError(
            "run_engine_bench needs block >= 1, duration > 0, baseline_duration > 0 and repeats >= 1; got "
            f"block={block}, duration={duration}, baseline_duration={baseline_duration}, repeats={repeats}, "
            f"baseline_repeats={baseline_repeats}."
        )
    bad = [m for m in muaps if m not in MUAP_MODES]
    if bad or not muaps:
        raise ValueError(
            f"The argument 'muaps' must list modes of {MUAP_MODES}, {list(muaps)!r} is invalid."
        )
    numba.set_num_threads(1)
    muscles = tuple(muscles)
    load_before = _load_average()
    configs = []
    first_run: dict[str, Any] | None = None
    numba_dir = tempfile.TemporaryDirectory(prefix="myostream-numba-") if startup else None
    for layout in layouts:
        baseline: dict[str, Any] | None = None
        for mode in muaps:
            settings = EngineSettings(
                layout=layout,
                fs=fs,
                muscles=muscles,
                units_per_muscle=units_per_muscle,
                seed=seed,
                muaps=mode,
            )
            row, baseline = _bench_config(
                settings,
                drive,
                block,
                duration,
                baseline_duration,
                repeats,
                baseline_repeats,
                baseline,
            )
            if numba_dir is not None:
                times = measure_startup(settings, Path(numba_dir.name), first_run=first_run is None)
                if first_run is None:
                    first_run = {"layout": layout, "muaps": mode, **times.pop("first_run")}
                row["startup_cold_s"] = times["cold"]["process_wall_s"]
                row["startup_warm_s"] = times["warm"]["process_wall_s"]
                row["tables_warm_over_cold"] = round(
                    times["warm"]["muap_tables_s"] / max(times["cold"]["muap_tables_s"], 1e-9), 4
                )
                row["startup"] = times
            configs.append(row)
            logger.info("bench engine: %s", row)
    if numba_dir is not None:
        numba_dir.cleanup()
    result: dict[str, Any] = {
        "configs": configs,
        "targets": evaluate_targets(configs),
        "startup_first_run": first_run,
        "numba_threads": numba.get_num_threads(),
        "load_average": {"before": load_before, "after": _load_average()},
        "cpu_count": os.cpu_count(),
        "settings": {
            "muscles": list(muscles),
            "units_per_muscle": units_per_muscle,
            "unit_counts": dict(zip(muscles, EngineSettings(muscles=muscles, units_per_muscle=units_per_muscle).unit_counts)),
            "drive": drive,
            "fs": fs,
            "block_samples": block,
            "duration_s": duration,
            "baseline_duration_s": baseline_duration,
            "repeats": repeats,
            "seed": seed,
            "posture": "each joint swept over its range (0.23, 0.31, 0.17 Hz)",
        },
    }
    return result


def evaluate_targets(configs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Compare the rows with the issue's targets (:data:`TARGETS`, :data:`MAX_TARGETS`)."""
    out: dict[str, dict[str, Any]] = {}
    rows = {(c["layout"], c["muaps"]): c for c in configs}
    for table, minimum in ((TARGETS, True), (MAX_TARGETS, False)):
        for name, (layout, mode, key, target) in table.items():
            row = rows.get((layout, mode))
            if row is None or key not in row:
                continue
            value = row[key]
            met = value >= target if minimum else value <= target
            out[name] = {
                "value": value,
                "target": target,
                "kind": "min" if minimum else "max",
                "met": bool(met),
            }
    return out


def _blocks(
    settings: EngineSettings, drive: float, block: int, n_samples: int, angles: bool = True
) -> list[Block]:
    act = np.full((block, settings.n_muscles), drive, np.float32)
    sweep = posture_sweep(n_samples, settings.fs)
    out = []
    for seq in range(0, n_samples, block):
        n = min(block, n_samples - seq)
        data = act if n == block else np.ascontiguousarray(act[:n])
        aux = {"angles": np.ascontiguousarray(sweep[seq : seq + n])} if angles else {}
        out.append(
            Block(
                data, np.arange(seq, seq + n) / settings.fs, settings.fs, seq, settings.muscles, aux
            )
        )
    return out


def _bench_config(
    settings: EngineSettings,
    drive: float,
    block: int,
    duration: float,
    baseline_duration: float,
    repeats: int,
    baseline_repeats: int,
    baseline: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = EmgEngine(settings)
    t0 = time.perf_counter()
    engine.reset(max_block=block)
    setup_s = time.perf_counter() - t0
    n_total = int(round(duration * settings.fs))
    blocks = _blocks(settings, drive, block, n_total)
    cpu = []
    for _ in range(repeats):
        engine.reset(max_block=block)
        process = engine.process
        # The prebuilt input blocks (thousands of objects a running pipeline never holds) go to the
        # collector's permanent generation, so its collections do not walk them on the clock.
        gc.collect()
        gc.freeze()
        try:
            t0 = time.process_time()
            for blk in blocks:
                process(blk)
            cpu.append(time.process_time() - t0)
        finally:
            gc.unfreeze()
    # Untimed pass over the baseline segment at the neutral posture (no angles): the engine then adds
    # exactly engine.muaps, so the np.convolve baseline must reproduce its output.
    n_base = int(round(baseline_duration * settings.fs))
    engine.reset(max_block=block)
    outs, samples, units = [], [], []
    for blk in _blocks(settings, drive, block, n_base, angles=False):
        out = engine.process(blk)
        outs.append(out.data)
        d = out.events.get("discharges", Discharges.empty())
        samples.append(d.sample)
        units.append(engine.pool.starts[d.muscle] + d.unit)
    emg = np.concatenate(outs)
    spk_sample, spk_unit = np.concatenate(samples), np.concatenate(units)
    trains = spike_trains(spk_sample, spk_unit, engine.pool.n_units, n_base)
    muaps = engine.muaps
    if baseline is None:
        base_cpu = []
        for _ in range(baseline_repeats):
            t0 = time.process_time()
            ref = reference_emg(trains, muaps)
            base_cpu.append(time.process_time() - t0)
        baseline = {"cpu": base_cpu, "measured_with": settings.muaps}
    else:
        ref = reference_emg(trains, muaps)
    err = float(np.abs(ref - emg).max())
    scale = float(np.abs(ref).max()) or 1.0
    rtf = duration / statistics.median(cpu)
    np_rtf = baseline_duration / statistics.median(baseline["cpu"])
    tables = engine.tables
    row = {
        "layout": settings.layout,
        "muaps": settings.muaps,
        "n_motor_units": engine.pool.n_units,
        "realtime_factor": round(rtf, 2),
        "numpy_realtime_factor": round(np_rtf, 3),
        "speedup_vs_numpy": round(rtf / np_rtf, 1),
        "table_mb": round(engine.table_mb, 2),
        "n_tables": tables.n_tables,
        "posture_points": list(settings.posture_points)
        if settings.muaps == "dynamic"
        else [1, 1, 1],
        "n_channels": engine.n_channels,
        "muap_samples": int(settings.muap_samples),
        "muap_rows_mean": round(float(tables.rows.mean()), 2),
        "discharges_per_s": round(spk_sample.size / baseline_duration, 1),
        "engine_cpu_s_median": round(statistics.median(cpu), 4),
        "engine_cpu_s_runs": [round(c, 4) for c in cpu],
        "numpy_cpu_s_median": round(statistics.median(baseline["cpu"]), 4),
        "numpy_measured_with": baseline["measured_with"],
        "baseline_max_abs_diff_uv": err,
        "baseline_max_rel_diff": err / scale,
        "setup_s": round(setup_s, 3),
        "muap_tables_s": round(engine.timings.get("muap_tables_s", 0.0), 3),
        "tables_source": engine.tables_source,
    }
    return row, baseline


_STARTUP_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from realtime.stages.engine import EmgEngine, EngineSettings
t1 = time.perf_counter()
e = EmgEngine(EngineSettings(**json.loads(sys.argv[1])))
e.reset(max_block=4)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "engine_s": t2 - t1, "muap_tables_s": e.timings["muap_tables_s"],
                  "kernel_jit_s": e.timings["jit_s"], "tables_source": e.tables_source}))
"""


def measure_startup(
    settings: EngineSettings,
    numba_cache: Path | None = None,
    first_run: bool = False,
    timeout: float = 900.0,
) -> dict[str, Any]:
    """Start-up of ``settings`` in fresh processes: first run, cold and warm.

    Each run imports the engine, builds it and calls ``reset(4)``:

    - ``first_run`` (if asked): empty numba and MUAP caches, as right after
      installation (kernels compiled, tables built);
    - ``cold``: numba cache filled, MUAP cache empty (a new configuration:
      tables built);
    - ``warm``: both caches filled (tables loaded from disk).

    ``process_wall_s`` is the whole process (interpreter start included);
    ``muap_tables_s`` is building or loading the tables, ``kernel_jit_s``
    compiling or loading the overlap-add kernel.

    Parameters
    ----------
    settings : EngineSettings
        The configuration to start.
    numba_cache : Path | None
        numba cache directory of the processes (shared between calls to
        compile once); ``None`` keeps this environment's (by default the
        ``__pycache__`` folders of the package, normally filled).
    first_run : bool
        Also measure a first run with both caches empty; ``numba_cache`` must
        then be an empty directory.
    timeout : float
        Seconds allowed per process.
    """
    if first_run and (numba_cache is None or any(Path(numba_cache).iterdir())):
        raise ValueError(
            f"measure_startup(first_run=True) needs an empty 'numba_cache' directory, {numba_cache!r} is "
            "invalid. Pass a fresh temporary directory."
        )
    args = json.dumps(
        {
            "layout": settings.layout,
            "fs": settings.fs,
            "muscles": list(settings.muscles),
            "units_per_muscle": settings.units_per_muscle,
            "seed": settings.seed,
            "muaps": settings.muaps,
            "posture_points": list(settings.posture_points),
            "volume_conductor": settings.volume_conductor,
        }
    )
    with tempfile.TemporaryDirectory(prefix="myostream-startup-") as tmp:
        muap_cache = Path(tmp) / "cache"
        env = cli_environment(dict(os.environ, MYOSTREAM_CACHE=str(muap_cache), NUMBA_NUM_THREADS="1"))
        if numba_cache is not None:
            env["NUMBA_CACHE_DIR"] = str(numba_cache)
        runs: dict[str, Any] = {}
        for name in ("first_run", "cold", "warm") if first_run else ("cold", "warm"):
            if name == "cold" and muap_cache.exists():
                shutil.rmtree(muap_cache)  # keep the compiled kernels, drop the tables
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _STARTUP_SNIPPET, args],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(
                    f"The start-up probe failed ({name}): {proc.stderr.strip()[-2000:]}"
                )
            data = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[name] = {
                k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in {**data, "process_wall_s": wall}.items()
            }
    return runs


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def format_rows(result: dict[str, Any]) -> list[str]:
    """One line per row, for the command line."""
    lines = []
    for row in result["configs"]:
        line = (
            f"{row['layout']:>9} {row['muaps']:>7}: {row['n_motor_units']} units, "
            f"{row['realtime_factor']:.0f}x real time; np.convolve {row['numpy_realtime_factor']:.2f}x "
            f"(speed-up {row['speedup_vs_numpy']:.0f}x); tables {row['table_mb']:.1f} MB"
        )
        if "startup_cold_s" in row:
            line += (
                f"; start-up cold {row['startup_cold_s']:.1f} s, warm {row['startup_warm_s']:.1f} s"
            )
        lines.append(line)
    for name, t in result["targets"].items():
        sign = ">=" if t["kind"] == "min" else "<="
        lines.append(
            f"target {name}: {t['value']} {sign} {t['target']}: {'met' if t['met'] else 'NOT met'}"
        )
    return lines
