"""Tick benchmark: what one runner tick costs, per stage, in-process.

:func:`run_tick_bench` builds the simulator as ``launch.py run`` does with its
defaults (:class:`~realtime.app.simulator.Simulator`, model activation, armband8 or
the given layout, the LSL outlets created and live, no consumer) on a synthetic arm
at ``imu_rate`` Hz, warms it up, then runs ``ticks`` ticks of the live code
(:meth:`Pipeline._tick`) back to back on a simulated clock that advances one block
period per tick (so every tick sees the samples a live tick would see, and nothing
sleeps). It returns a JSON-ready dict::

    {"config": {...}, "tick_us": {"median", "p90", "p99", "max"},
     "runner_stage_us": {stage: median, ...},     # the runner's own counters, per tick
     "detail_us": {part: median, ...},            # each part timed alone (second pass)
     "load_average": [...]}

- ``tick_us``: wall time of one whole tick (``time.perf_counter_ns``), first pass,
  nothing wrapped.
- ``runner_stage_us``: the per-tick differences of ``RunnerStats.stage_ns`` in the
  same pass (``source`` = read + input guard + source markers, ``resample`` = grid
  and drive stages, ``post`` = artefacts and faults, ``output`` = every push).
- ``detail_us``: a second pass of as many ticks with each part wrapped by a timer
  (``source_read``, ``guard``, ``activation``, ``grid_push``, ``grid_pull``,
  ``engine``, ``artefacts``, ``faults`` and one entry per output); a wrapper adds
  about 0.3 µs to what it times. Medians over the ticks, including ticks where a
  part had nothing to do.

Run it with ``python launch.py bench tick --json PATH``. The machine may be shared:
compare runs made one after the other, and see ``load_average``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from realtime.app.runner import STAGE_NAMES, PipelineOutputs, RunnerStats
from realtime.app.simulator import Simulator, SimulatorConfig
from realtime.body.synthetic.settings import SyntheticSettings
from realtime.body.synthetic.source import SyntheticArm

_NS_TO_US = 1e-3


class _SimClock:
    """A clock that only moves when told to (one block period per tick)."""

    def __init__(self, t: float) -> None:
        self.t = float(t)

    def __call__(self) -> float:
        return self.t


def _timed(fn: Callable[..., Any], sink: list[int]) -> Callable[..., Any]:
    """``fn`` wrapped so that each call appends its duration (ns) to ``sink``."""
    perf = time.perf_counter_ns

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = perf()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(perf() - start)

    return wrapper


def _summary(values_ns: np.ndarray) -> dict[str, float]:
    us = np.asarray(values_ns, float) * _NS_TO_US
    return {
        "median": round(float(np.median(us)), 2),
        "p90": round(float(np.percentile(us, 90)), 2),
        "p99": round(float(np.percentile(us, 99)), 2),
        "max": round(float(us.max()), 2),
    }


def run_tick_bench(layout: str = "armband8", fs: float = 2000.0, block_size: int = 2, imu_rate: float = 1000.0,
                   ticks: int = 20000, units_per_muscle: int | None = 100) -> dict[str, Any]:
    """Time ``ticks`` ticks of the live runner code, whole and per part.

    Parameters
    ----------
    layout : str
        Electrode layout.
    fs : float
        EMG rate in Hz.
    block_size : int
        EMG samples per tick.
    imu_rate : float
        Rate of the synthetic arm in Hz (the latency benchmark's IMU runs at 1 kHz).
    ticks : int
        Ticks per pass (two passes: whole, then per part).
    units_per_muscle : int | None
        Motor units in each muscle's pool (the latency benchmark uses 100).

    Returns
    -------
    result : dict
        See the module docstring.
    """
    clock = _SimClock(1000.0)
    source = SyntheticArm(SyntheticSettings(fs=imu_rate), clock=clock)
    config = SimulatorConfig(prefix=f"benchtick{os.getpid()}", layout=layout, fs=fs, block_size=block_size,
                             units_per_muscle=units_per_muscle, linger_s=0.0)
    sim = Simulator(config, source, clock=clock, sleep=lambda dt: None)
    pipe = sim.pipeline
    pipe.warm_up()
    for outlet in sim.outlets:
        outlet.start()
    period = block_size / fs
    try:
        source.start()
        whole = _pass_whole(pipe, source, clock, period, ticks)
        detail = _pass_detail(pipe, source, clock, period, ticks)
    finally:
        source.stop()
        for outlet in sim.outlets:
            outlet.stop()
    return {
        "config": {"layout": layout, "fs": fs, "block_size": block_size, "imu_rate": imu_rate, "ticks": ticks,
                   "units_per_muscle": units_per_muscle, "source": "synthetic", "activation": "model"},
        **whole,
        "detail_us": detail,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _start(pipe: Any, clock: _SimClock) -> None:
    t0 = clock()
    pipe._reset_stages(t0)
    pipe.stats = RunnerStats(t0=t0)


def _pass_whole(pipe: Any, source: Any, clock: _SimClock, period: float, ticks: int) -> dict[str, Any]:
    _start(pipe, clock)
    n = pipe.settings.block_size
    stats = pipe.stats
    tick_ns = np.empty(ticks, np.int64)
    stage_ns = np.empty((ticks, len(STAGE_NAMES)), np.int64)
    prev = np.zeros(len(STAGE_NAMES), np.int64)
    perf = time.perf_counter_ns
    read, out, tick = source.read, pipe.outputs, pipe._tick
    for i in range(ticks):
        clock.t += period
        start = perf()
        tick(n, read, out)
        tick_ns[i] = perf() - start
        now = np.fromiter((stats.stage_ns[k] for k in STAGE_NAMES), np.int64, len(STAGE_NAMES))
        stage_ns[i] = now - prev
        prev = now
    return {
        "tick_us": _summary(tick_ns),
        "runner_stage_us": {k: round(float(np.median(stage_ns[:, j])) * _NS_TO_US, 2)
                            for j, k in enumerate(STAGE_NAMES)},
    }


def _pass_detail(pipe: Any, source: Any, clock: _SimClock, period: float, ticks: int) -> dict[str, float]:
    sinks: dict[str, list[int]] = {}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        return _timed(fn, sinks.setdefault(name, []))

    names = ["engine", "artefacts", "faults"] + [f"stage{k}" for k in range(3, len(pipe.stages))]
    pipe.guard.process = wrap("guard", pipe.guard.process)
    pipe.activation.process = wrap("activation", pipe.activation.process)
    pipe.grid.push = wrap("grid_push", pipe.grid.push)
    pipe.grid.pull = wrap("grid_pull", pipe.grid.pull)
    for stage, name in zip(pipe.stages, names):
        stage.process = wrap(name, stage.process)
    o = pipe.outputs
    out = PipelineOutputs(
        emg=None if o.emg is None else _Sink(wrap("out_emg", o.emg.write)),
        imu=None if o.imu is None else _Sink(wrap("out_imu", o.imu.write)),
        activation_truth=None if o.activation_truth is None else _Sink(wrap("out_truth", o.activation_truth.write)),
        activation_model=None if o.activation_model is None else _Sink(wrap("out_model", o.activation_model.write)),
        markers=o.markers,
        spikes=None if o.spikes is None else wrap("out_spikes", o.spikes),
        provenance=None if o.provenance is None else wrap("out_provenance", o.provenance),
        gesture=None if o.gesture is None else _Sink(wrap("out_gesture", o.gesture.write)),
    )
    read = wrap("source_read", source.read)
    try:
        _start(pipe, clock)
        n = pipe.settings.block_size
        for _ in range(ticks):
            clock.t += period
            pipe._tick(n, read, out)
    finally:
        del pipe.guard.process, pipe.activation.process, pipe.grid.push, pipe.grid.pull
        for stage in pipe.stages:
            del stage.process
    result = {}
    for name, values in sinks.items():
        arr = np.asarray(values, np.int64)
        result[name] = round(float(np.median(arr)) * _NS_TO_US, 2) if len(arr) else 0.0
        result[f"{name}_calls"] = len(arr)
    return result


class _Sink:
    """A sink whose ``write`` is the given callable."""

    def __init__(self, write: Callable[[Any], None]) -> None:
        self.write = write


def format_rows(result: dict[str, Any]) -> list[str]:
    """Human-readable lines of a :func:`run_tick_bench` result."""
    c, t = result["config"], result["tick_us"]
    lines = [f"{c['layout']}, {c['fs']:g} Hz, block {c['block_size']}, IMU {c['imu_rate']:g} Hz, {c['ticks']} ticks: "
             f"tick median {t['median']} µs, p90 {t['p90']}, p99 {t['p99']}, max {t['max']}",
             "runner stages (median µs/tick): " + ", ".join(f"{k} {v}" for k, v in result["runner_stage_us"].items())]
    d = result["detail_us"]
    lines.append("parts (median µs per call, calls): " + ", ".join(
        f"{k} {v} ({d[k + '_calls']})" for k, v in d.items() if not k.endswith("_calls")))
    lines.append(f"load average {result['load_average']}")
    return lines
