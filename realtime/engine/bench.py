"""Engine benchmark: streaming engine vs the offline peers' per-unit ``np.convolve``.

:func:`run_engine_bench` returns a JSON-ready dict::

    {"configs": [{"layout", "n_motor_units", "muaps", "realtime_factor",
                  "numpy_realtime_factor", ...}, ...], ...}

- ``realtime_factor``: seconds of signal per second of CPU time
  (``time.process_time``, numba on one thread) of :meth:`EmgEngine.process`
  fed blocks of ``block`` samples, spike generation included; the median of
  ``repeats`` runs.
- ``numpy_realtime_factor``: the same for the method of the offline
  simulators: per motor unit and channel, ``np.convolve`` of the spike train
  with the MUAP, summed (:func:`~realtime.engine.reference.reference_emg`),
  on the same discharges and tables, over ``baseline_duration`` seconds.

Run it with ``python -m realtime.engine.bench --json PATH`` (the CLI's
``bench engine`` calls the same function).
"""

from __future__ import annotations

import argparse
import json
import os
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

from realtime.block import Block
from realtime.engine.engine import EmgEngine
from realtime.engine.reference import reference_emg, spike_trains
from realtime.engine.settings import EngineSettings
from realtime.logs import logger

BENCH_MUSCLES: tuple[str, ...] = (
    "biceps",
    "brachialis",
    "brachioradialis",
    "triceps",
    "wrist_flexors",
    "wrist_extensors",
)
"""The six muscles of the benchmark (those named in the foundation issue)."""


def run_engine_bench(
    *,
    layouts: Sequence[str] = ("armband8", "grid64"),
    muscles: Sequence[str] = BENCH_MUSCLES,
    units_per_muscle: int = 200,
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
    """Measure the engine's real-time factor and the ``np.convolve`` baseline.

    Parameters
    ----------
    layouts : sequence of str
        Layouts to measure, one config each.
    muscles : sequence of str
        Muscles simulated (default: :data:`BENCH_MUSCLES`).
    units_per_muscle : int
        Motor units per muscle.
    drive : float
        Constant activation of every muscle (0-1).
    fs : float
        Engine rate (Hz).
    block : int
        Samples per ``process`` call.
    duration : float
        Seconds of signal per timed streaming run.
    baseline_duration : float
        Seconds of signal for the ``np.convolve`` baseline (>= 1 s recommended).
    repeats, baseline_repeats : int
        Timed runs of each; medians are reported.
    seed : int
        Engine seed.
    startup : bool
        Also measure numba compile time cold and warm (:func:`measure_startup`).

    Returns
    -------
    dict
        ``{"configs": [...], "numba_threads": 1, "startup": {...}, "settings": {...}}``.
    """
    if block < 1 or duration <= 0 or baseline_duration <= 0 or repeats < 1 or baseline_repeats < 1:
        raise ValueError(
            "run_engine_bench needs block >= 1, duration > 0, baseline_duration > 0 and repeats >= 1; got "
            f"block={block}, duration={duration}, baseline_duration={baseline_duration}, repeats={repeats}, "
            f"baseline_repeats={baseline_repeats}."
        )
    numba.set_num_threads(1)
    muscles = tuple(muscles)
    configs = []
    for layout in layouts:
        settings = EngineSettings(
            layout=layout, fs=fs, muscles=muscles, units_per_muscle=units_per_muscle, seed=seed
        )
        configs.append(
            _bench_layout(
                settings, drive, block, duration, baseline_duration, repeats, baseline_repeats
            )
        )
    result: dict[str, Any] = {
        "configs": configs,
        "numba_threads": numba.get_num_threads(),
        "settings": {
            "muscles": list(muscles),
            "units_per_muscle": units_per_muscle,
            "drive": drive,
            "fs": fs,
            "block_samples": block,
            "duration_s": duration,
            "baseline_duration_s": baseline_duration,
            "repeats": repeats,
            "seed": seed,
        },
    }
    if startup:
        result["startup"] = measure_startup()
    return result


def _blocks(settings: EngineSettings, drive: float, block: int, n_samples: int) -> list[Block]:
    act = np.full((block, settings.n_muscles), drive, np.float32)
    out = []
    for seq in range(0, n_samples, block):
        n = min(block, n_samples - seq)
        data = act if n == block else np.ascontiguousarray(act[:n])
        out.append(
            Block(data, np.arange(seq, seq + n) / settings.fs, settings.fs, seq, settings.muscles)
        )
    return out


def _bench_layout(
    settings: EngineSettings,
    drive: float,
    block: int,
    duration: float,
    baseline_duration: float,
    repeats: int,
    baseline_repeats: int,
) -> dict[str, Any]:
    engine = EmgEngine(settings)
    t0 = time.perf_counter()
    engine.reset(block)
    setup_s = time.perf_counter() - t0
    n_total = int(round(duration * settings.fs))
    blocks = _blocks(settings, drive, block, n_total)
    cpu = []
    n_spikes = 0
    for _ in range(repeats):
        engine.reset(block)
        process = engine.process
        t0 = time.process_time()
        for blk in blocks:
            process(blk)
        cpu.append(time.process_time() - t0)
    # Untimed pass over the baseline segment: the engine's output and discharges.
    n_base = int(round(baseline_duration * settings.fs))
    engine.reset(block)
    outs, samples, units = [], [], []
    for blk in _blocks(settings, drive, block, n_base):
        outs.append(engine.process(blk).data)
        d = engine.discharges
        samples.append(d.sample)
        units.append(engine.pool.starts[d.muscle] + d.unit)
    emg = np.concatenate(outs)
    spk_sample, spk_unit = np.concatenate(samples), np.concatenate(units)
    n_spikes = spk_sample.size
    trains = spike_trains(spk_sample, spk_unit, engine.pool.n_units, n_base)
    base_cpu = []
    for _ in range(baseline_repeats):
        t0 = time.process_time()
        ref = reference_emg(trains, engine.muaps)
        base_cpu.append(time.process_time() - t0)
    err = float(np.abs(ref - emg).max())
    scale = float(np.abs(ref).max()) or 1.0
    rtf = duration / statistics.median(cpu)
    np_rtf = baseline_duration / statistics.median(base_cpu)
    muaps = engine.muaps
    row = {
        "layout": settings.layout,
        "n_motor_units": engine.pool.n_units,
        "muaps": settings.muaps,
        "realtime_factor": round(rtf, 2),
        "numpy_realtime_factor": round(np_rtf, 3),
        "speedup_vs_numpy": round(rtf / np_rtf, 1),
        "n_channels": engine.n_channels,
        "muap_samples": int(muaps.shape[1]),
        "table_mb": round(muaps.nbytes / 2**20, 2),
        "discharges_per_s": round(n_spikes / baseline_duration, 1),
        "engine_cpu_s_median": round(statistics.median(cpu), 4),
        "engine_cpu_s_runs": [round(c, 4) for c in cpu],
        "numpy_cpu_s_median": round(statistics.median(base_cpu), 4),
        "baseline_max_abs_diff_uv": err,
        "baseline_max_rel_diff": err / scale,
        "setup_s": round(setup_s, 3),
        "muap_tables_s": round(engine.timings.get("muap_tables_s", 0.0), 3),
    }
    logger.info("bench engine: %s", row)
    return row


_STARTUP_SNIPPET = """
import json, time
t0 = time.perf_counter()
from realtime.engine import EmgEngine, EngineSettings
t1 = time.perf_counter()
e = EmgEngine(EngineSettings(units_per_muscle=2, muscles=("wrist_flexors",)))
e.reset(4)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_reset_s": t2 - t1, "kernel_jit_s": e.timings["jit_s"],
                  "muap_tables_s": e.timings["muap_tables_s"]}))
"""


def measure_startup(timeout: float = 600.0) -> dict[str, Any]:
    """Numba start-up cost in fresh processes: cold (empty cache) and warm (cache filled).

    Each run imports the engine, builds a 2-unit engine and calls ``reset``
    (which compiles or loads every kernel). ``first_reset_s`` is dominated by
    compilation when cold and by cache loading when warm.
    """
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="myostream-numba-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(root))
        runs = {}
        for name in ("cold", "warm"):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _STARTUP_SNIPPET],
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
            runs[name] = {
                **json.loads(proc.stdout.strip().splitlines()[-1]),
                "process_wall_s": wall,
            }
    return {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in runs.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m realtime.engine.bench --json PATH [--duration S] [--repeats N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="Where to write the results.")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--baseline-duration", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units-per-muscle", type=int, default=200)
    args = parser.parse_args(argv)
    result = run_engine_bench(
        duration=args.duration,
        baseline_duration=args.baseline_duration,
        repeats=args.repeats,
        units_per_muscle=args.units_per_muscle,
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    for row in result["configs"]:
        sys.stdout.write(
            f"{row['layout']}: {row['n_motor_units']} units, realtime x{row['realtime_factor']}, "
            f"np.convolve x{row['numpy_realtime_factor']}, speed-up {row['speedup_vs_numpy']}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
