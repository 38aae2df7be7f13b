"""Latency analysis on records with known answers; soak windows; reports; the workers' playback source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from realtime.app.bench.analysis import (
    HOPS,
    AnalysisError,
    analyse,
    floor_figures,
    rate_error_ppm,
    tail_breakdown,
)
from realtime.app.bench.latency import (
    RESIDUAL_TARGETS_MS,
    ConfigResult,
    config_row,
    figures_from_logs,
    policy_label,
    residual_met,
    row_label,
    stress_conditions,
    sweep_configs,
    targets_met,
)
from realtime.app.bench.report import write_latency_report, write_soak_report
from realtime.app.bench.session import SessionConfig, SessionLogs
from realtime.app.bench.soak import soak_figures
from realtime.app.bench.workers import GrowBuffer, PlaybackSource

FS, IMU_RATE, T0 = 2000.0, 1000.0, 100.0


def _records(duration: float = 10.0, drift_ppm: float = 0.0, lose_blocks: tuple[int, ...] = (),
             seed: int = 0, every: int = 10) -> dict:
    """A session whose answers are known: 1 kHz IMU, 2-sample blocks, rows for every ``every``-th sample
    (10: a grid-only network stage, whose rows are completed by every 10th sample; 1: provisional rows,
    every sample read has its own row)."""
    rng = np.random.default_rng(seed)
    n_imu = int(duration * IMU_RATE)
    created = T0 + 0.05 + np.arange(n_imu) / IMU_RATE + rng.uniform(0, 50e-6, n_imu)
    completing = np.arange(3, n_imu, every)  # every=10: samples 3, 13, 23, ... complete a model-grid row
    n_blocks = int(duration * FS) // 2
    first = 2 * np.arange(n_blocks)
    t_last = T0 + (first + 1) / FS
    read_time = t_last - 0.2e-3
    visible = np.searchsorted(created[completing] + 0.3e-3, read_time, side="right") - 1
    seq = np.where(visible >= 0, completing[np.maximum(visible, 0)], -1)
    imu_time = np.where(seq >= 0, created[np.maximum(seq, 0)], np.nan)
    push = t_last + 0.1e-3
    arrival_block = push + 0.2e-3 + rng.uniform(0, 0.1e-3, n_blocks)
    arrival_block += (first / FS) * (-drift_ppm * 1e-6)  # fewer samples per second of consumer clock when < 0
    rows = np.stack([imu_time, seq.astype(float), first.astype(float), np.full(n_blocks, 2.0),
                     np.where(seq >= 0, read_time, np.nan), push], axis=1)
    keep = np.ones(n_blocks, bool)
    keep[list(lose_blocks)] = False
    emg_index = np.stack([first, first + 1], axis=1)[keep].ravel()
    emg_arrival = np.repeat(arrival_block[keep], 2)
    return {"created": created, "rows": rows, "row_ts": t_last, "emg_ts": T0 + emg_index / FS,
            "emg_arrival": emg_arrival, "arrival_block": arrival_block, "seq": seq, "n_sent": 2 * n_blocks}


def _expected_latency(rec: dict, warmup: float) -> np.ndarray:
    created, seq, arr = rec["created"], rec["seq"], rec["arrival_block"].copy()
    lost = np.setdiff1d(np.arange(seq.size), np.unique(np.searchsorted(rec["row_ts"], rec["emg_ts"]) // 1))
    out = []
    for k in range(created.size):
        if created[k] < created[0] + warmup or k > seq.max():
            continue
        r = int(np.argmax(seq >= k))  # first block that includes sample k (brute force)
        while r in lost:
            r += 1
        out.append(arr[r] - created[k])
    return np.array(out)


def _analyse(rec: dict, warmup: float = 1.0, **kwargs) -> object:
    return analyse(rec["created"], rec["rows"], rec["row_ts"], rec["emg_ts"], rec["emg_arrival"], FS, IMU_RATE,
                   warmup, rec["n_sent"], **kwargs)


def test_latency_of_every_sample_is_the_first_arrival_of_a_block_that_includes_it() -> None:
    rec = _records(duration=4.0)
    fig = _analyse(rec, stage_ns={"source": 2000, "engine": 8000}, ticks=4)
    expected = _expected_latency(rec, 1.0)
    np.testing.assert_allclose(np.sort(fig.latency_ms), np.sort(expected) * 1e3, rtol=0, atol=1e-9)
    s = fig.summary
    assert s["n_latency_samples"] == expected.size
    assert s["negative_latencies"] == 0
    assert s["p50_ms"] == pytest.approx(np.percentile(expected, 50) * 1e3)
    assert s["lost_samples"] == 0
    assert s["duplicate_samples"] == 0
    assert s["timestamp_grid_error_us"] < 1e-3
    # Every sample waits for the next completing sample (0..9 ms later): median wait ~4.5 ms.
    assert 3.5 < s["stages_ms"]["row_wait"] < 5.5
    assert s["stages_ms"]["source_read"] == pytest.approx(2000 / 4 * 1e-6)
    assert s["stages_ms"]["transport"] == pytest.approx(0.25, abs=0.06)
    # Row latency: completing samples only, so much shorter.
    assert s["row_p50_ms"] < s["p50_ms"] - 3.0
    assert s["imu_timestamp_residual_ms"] == pytest.approx(0.0)


def test_with_a_row_for_every_sample_there_is_no_wait_for_a_row() -> None:
    rec = _records(duration=4.0, every=1)
    fig = _analyse(rec)
    expected = _expected_latency(rec, 1.0)
    np.testing.assert_allclose(np.sort(fig.latency_ms), np.sort(expected) * 1e3, rtol=0, atol=1e-9)
    s = fig.summary
    assert s["stages_ms"]["row_wait"] == 0.0  # the median sample is named by its own block
    assert s["n_row_samples"] > 0.9 * s["n_latency_samples"]
    assert s["p50_ms"] == pytest.approx(s["row_p50_ms"], abs=0.3)
    assert s["p50_ms"] < _analyse(_records(duration=4.0, every=10)).summary["p50_ms"] - 3.0


def test_lost_blocks_count_and_their_samples_wait_for_the_next_arriving_block() -> None:
    rec = _records(duration=4.0, lose_blocks=(2500, 2501, 3000))
    fig = _analyse(rec)
    assert fig.summary["lost_samples"] == 6
    expected = _expected_latency(rec, 1.0)
    np.testing.assert_allclose(np.sort(fig.latency_ms), np.sort(expected) * 1e3, rtol=0, atol=1e-9)


def test_a_wrong_clock_shows_up_as_negative_latencies() -> None:
    rec = _records(duration=3.0)
    rec["created"] = rec["created"] + 0.05  # a device clock 50 ms ahead: the check can fail
    assert _analyse(rec).summary["negative_latencies"] > 0


@pytest.mark.parametrize("drift_ppm", [0.0, 150.0, -400.0])
def test_rate_error_follows_the_drift_of_the_arrivals(drift_ppm: float) -> None:
    rec = _records(duration=20.0, drift_ppm=drift_ppm, seed=3)
    fig = _analyse(rec)
    assert fig.summary["rate_error_ppm"] == pytest.approx(drift_ppm, abs=10.0)
    index = np.arange(10_000)
    env, naive = rate_error_ppm(index, index / FS * (1 - 2e-4), FS)
    assert env == pytest.approx(200.0, rel=1e-6)
    assert naive == pytest.approx(200.0, rel=1e-3)


def test_inconsistent_records_are_refused_with_a_reason() -> None:
    rec = _records(duration=3.0)
    rows = rec["rows"].copy()
    rows[:, 1] = -1
    with pytest.raises(AnalysisError, match="No EMG block included an IMU sample"):
        analyse(rec["created"], rows, rec["row_ts"], rec["emg_ts"], rec["emg_arrival"], FS, IMU_RATE, 1.0, 10)
    rows = rec["rows"].copy()
    rows[-1, 1] = 0
    with pytest.raises(AnalysisError, match="backwards"):
        analyse(rec["created"], rows, rec["row_ts"], rec["emg_ts"], rec["emg_arrival"], FS, IMU_RATE, 1.0, 10)
    with pytest.raises(AnalysisError, match="shape"):
        analyse(rec["created"], rows[:, :5], rec["row_ts"], rec["emg_ts"], rec["emg_arrival"], FS, IMU_RATE, 1.0, 10)


def _logs(duration: float = 30.0) -> SessionLogs:
    rec = _records(duration=duration, drift_ppm=20.0)
    cfg = SessionConfig(fs=FS, block=2, duration=duration, warmup=2.0)
    rss_t = np.arange(0.0, duration, 1.0)
    status_t = T0 + np.arange(1.0, duration, 1.0)
    status = np.zeros((status_t.size, 5))
    status[:, 2] = np.arange(status_t.size) // 5  # a late tick every 5 s
    return SessionLogs(cfg, rec["created"], rec["rows"], rec["row_ts"], rec["emg_ts"], rec["emg_arrival"], status,
                       status_t, {"samples_sent": rec["n_sent"], "stage_ns": {"engine": 10_000}, "ticks": 10,
                                  "late_ticks": int(status[-1, 2])},
                       np.stack([rss_t, 200.0 + 0.1 * rss_t], axis=1), duration)


def test_soak_windows_rate_memory_growth_and_late_ticks(tmp_path) -> None:
    doc = soak_figures(_logs(), window_s=5.0)
    s = doc["soak"]
    assert s["rate_error_ppm"] == pytest.approx(20.0, abs=10.0)
    assert s["lost_samples"] == 0
    assert s["rss_growth_mb"] == pytest.approx(0.1 * 27.0, abs=1e-9)  # from the end of the warm-up (2 s) to 29 s
    assert s["rss_slope_mb_per_h"] == pytest.approx(360.0)
    assert s["late_ticks"] == 5
    assert doc["targets"]["met"] == {"rate": True, "lost": True, "rss": True}
    assert len(doc["series"]["window_rate_ppm"]) == 6
    doc["machine"] = {"start": {"host": "h", "cpu_count": 2, "load_avg": [0, 0, 0], "date": "d"},
                      "end": {"load_avg": [0, 0, 0]}}
    paths = write_soak_report(json.loads(json.dumps(doc)), tmp_path, "python launch.py bench soak")
    assert [p.name for p in paths] == ["soak.md", "soak.png"]
    assert "resident memory growth" in paths[0].read_text()
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_report_has_the_table_the_targets_and_both_plots(tmp_path) -> None:
    logs = _logs(duration=12.0)
    fig = figures_from_logs(logs)
    row = config_row(logs.config, fig, logs.wall_s)
    assert list(row)[:13] == ["fs", "block", "layout", "source", "condition", "stress", "p50_ms", "p90_ms",
                              "p99_ms", "max_ms", "lost_samples", "rate_error_ppm", "late_ticks"]
    doc = {"configs": [row], "targets": {"fs": 2000.0, "max_block": 2, "source": "lsl", "p50_ms": 2.0,
                                         "p99_ms": 5.0, "late_ticks_percent": 0.1, "met": targets_met([row])},
           "machine": {"start": {"host": "h", "platform": "p", "cpu_count": 2, "load_avg": [1, 1, 1], "date": "d"},
                       "end": {"load_avg": [1, 1, 1]}}}
    assert doc["targets"]["met"] == {"lsl armband8 2000 Hz block 2": False}  # p50 ~5 ms: the model grid
    paths = write_latency_report(doc, [ConfigResult(logs.config, fig)], tmp_path, "python launch.py bench latency")
    text = paths[0].read_text()
    assert "| lsl armband8 2000 Hz b2 |" in text
    assert "**not met**" in text
    assert "wait for a row" in text
    assert "## Conditions and scheduling" in text
    assert "late ticks ≤ 0.1 %" in text
    for png in paths[1:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_is_every_combination_and_settings_are_checked() -> None:
    configs = sweep_configs()
    assert len(configs) == 2 * 5 * 2 * 2
    assert {(c.fs, c.block, c.layout, c.source) for c in configs} == {
        (f, b, lay, s) for f in (1000.0, 2000.0) for b in (1, 2, 5, 10, 20) for lay in ("armband8", "grid64")
        for s in ("lsl", "serial")}
    both = sweep_configs(fs=(2000.0,), blocks=(2,), layouts=("grid64",), sources=("lsl",), provisional=(True, False))
    assert [c.label for c in both] == ["lsl grid64 2000 Hz block 2", "lsl grid64 2000 Hz block 2 grid-only"]
    rows = [{"fs": c.fs, "block": c.block, "layout": c.layout, "source": c.source, "provisional": c.provisional,
             "p50_ms": p, "p99_ms": 4.0, "late_ticks_percent": 0.05} for c, p in zip(both, (1.5, 6.0))]
    assert [row_label(r) for r in rows] == [c.label for c in both]
    assert targets_met(rows) == {"lsl grid64 2000 Hz block 2": True, "lsl grid64 2000 Hz block 2 grid-only": False}
    rows[0]["late_ticks_percent"] = 0.2  # too many late ticks fails the target too
    assert targets_met(rows)["lsl grid64 2000 Hz block 2"] is False
    with pytest.raises(ValueError, match="'source'"):
        SessionConfig(source="usb")
    with pytest.raises(TypeError, match="'provisional' must be True or False"):
        SessionConfig(provisional="no")
    with pytest.raises(ValueError, match="'duration'"):
        SessionConfig(duration=2.0, warmup=2.0)


def test_playback_source_releases_due_samples_from_arming_on() -> None:
    now = [10.0]
    data = np.arange(30, dtype=np.float32).reshape(5, 6)
    src = PlaybackSource(data, 100.0, lambda: now[0])
    src.start()
    assert src.read().n_samples == 0  # not armed
    src.arm()
    b = src.read()
    assert (b.seq, b.n_samples, b.timestamps[0]) == (0, 1, 10.0)
    now[0] = 10.075
    b = src.read()
    assert b.seq == 1
    assert b.n_samples == 7  # samples 1..7 (due at 10.01 .. 10.07); the recording loops
    np.testing.assert_array_equal(b.data[4], data[0])
    np.testing.assert_allclose(b.timestamps, 10.0 + np.arange(1, 8) / 100.0)
    with pytest.raises(ValueError, match="'data'"):
        PlaybackSource(np.zeros((3, 5), np.float32), 100.0, lambda: 0.0)


def test_grow_buffer_keeps_everything_in_order() -> None:
    buf = GrowBuffer(2, capacity=1)
    for i in range(10):
        buf.extend(np.full((i, 2), float(i)))
    assert buf.array.shape == (45, 2)
    assert buf.array[-1, 0] == 9.0
    one = GrowBuffer(capacity=1)
    for i in range(5):
        one.append(i)
    np.testing.assert_array_equal(one.array, np.arange(5.0))


def test_imu_timestamp_residual_target_is_judged_per_source() -> None:
    assert RESIDUAL_TARGETS_MS == {"lsl": (-0.5, 0.5), "serial": (-0.1, 2.0)}
    rows = [{"fs": 2000.0, "block": 2, "layout": "armband8", "source": source, "provisional": True,
             "imu_timestamp_residual_ms": value}
            for source, value in (("lsl", 0.2), ("lsl", -0.7), ("serial", 1.5), ("serial", -0.3))]
    rows[1]["block"], rows[3]["block"] = 5, 5  # distinct labels
    assert list(residual_met(rows).values()) == [True, False, True, False]
    rows[0]["imu_timestamp_residual_ms"] = float("nan")
    assert residual_met(rows)[row_label(rows[0])] is False


def test_latency_report_lists_the_residual_target_of_every_row(tmp_path) -> None:
    logs = _logs(duration=12.0)
    from realtime.app.bench.latency import figures_from_logs

    fig = figures_from_logs(logs)
    row = config_row(logs.config, fig, logs.wall_s)
    doc = {"configs": [row], "targets": {"fs": 2000.0, "max_block": 2, "source": "lsl", "p50_ms": 2.0,
                                         "p99_ms": 5.0, "met": targets_met([row]),
                                         "imu_timestamp_residual_ms": {"lsl": [-0.5, 0.5], "serial": [-0.1, 2.0]},
                                         "residual_met": residual_met([row])},
           "machine": {"start": {"host": "h", "platform": "p", "cpu_count": 2, "load_avg": [1, 1, 1], "date": "d"},
                       "end": {"load_avg": [1, 1, 1]}}}
    text = write_latency_report(doc, [ConfigResult(logs.config, fig)], tmp_path, "bench latency")[0].read_text()
    assert "IMU timestamp residual" in text
    assert "lsl -0.5 to 0.5 ms, serial -0.1 to 2 ms" in text
    ok = "met" if doc["targets"]["residual_met"][row_label(row)] else "not met"
    assert f"- {row_label(row)}: " in text
    assert f"ms: **{ok}**." in text


def test_stress_conditions_run_back_to_back_for_every_configuration() -> None:
    assert stress_conditions(0) == (0,)
    assert stress_conditions(2) == (0, 2)
    with pytest.raises(ValueError, match="'stress'"):
        stress_conditions(-1)
    configs = sweep_configs(fs=(2000.0,), blocks=(2,), layouts=("armband8", "grid64"), sources=("lsl",),
                            stress=(0, 2), priority="normal")
    assert [c.label for c in configs] == ["lsl armband8 2000 Hz block 2", "lsl armband8 2000 Hz block 2 stress 2",
                                          "lsl grid64 2000 Hz block 2", "lsl grid64 2000 Hz block 2 stress 2"]
    assert [c.condition for c in configs] == ["quiet", "stress 2", "quiet", "stress 2"]
    assert {c.priority for c in configs} == {"normal"}
    assert SessionConfig().priority == "auto"  # as launch.py run
    with pytest.raises(ValueError, match="'stress'"):
        SessionConfig(stress=-2)
    with pytest.raises(ValueError, match="'priority'"):
        SessionConfig(priority="high")
    rows = [{"fs": c.fs, "block": c.block, "layout": c.layout, "source": c.source, "stress": c.stress,
             "p50_ms": 1.0, "p99_ms": 3.0, "late_ticks_percent": 0.0} for c in configs]
    assert list(targets_met(rows)) == [c.label for c in configs]  # one verdict per condition


def test_the_hops_add_up_to_the_latency_and_the_tail_names_the_slow_one() -> None:
    rec = _records(duration=10.0, every=1)
    late = np.arange(5000, 5200)  # a stall: 2 % of the blocks pushed 8 ms after their read (the runner behind)
    rec["rows"][late, 5] += 8e-3
    rec["arrival_block"][late] += 8e-3
    rec["emg_arrival"] = np.repeat(rec["arrival_block"], 2)
    fig = _analyse(rec)
    s = fig.summary
    assert set(s["tail_ms"]) == set(HOPS)
    tail = fig.latency_ms[fig.latency_ms >= np.percentile(fig.latency_ms, 99)]
    assert sum(s["tail_ms"].values()) == pytest.approx(tail.mean())  # the hops add up to the latency
    assert s["tail_hop"] == "processing"
    assert s["tail_ms"]["processing"] > 5.0
    assert s["p99_ms"] > 5.0
    # The same samples, slow on the EMG hop instead: the tail moves there.
    rec = _records(duration=10.0, every=1)
    rec["arrival_block"][late] += 8e-3
    rec["emg_arrival"] = np.repeat(rec["arrival_block"], 2)
    assert _analyse(rec).summary["tail_hop"] == "emg_transport"


def test_tail_breakdown_is_the_mean_of_each_hop_over_the_slowest_samples() -> None:
    a = np.array([1.0, 1.0, 1.0, 1.0, 10.0]) * 1e-3
    b = np.array([0.5, 0.5, 0.5, 0.5, 1.0]) * 1e-3
    got = tail_breakdown(a + b, {"a": a, "b": b}, q=80.0)
    assert got == pytest.approx({"a": 10.0, "b": 1.0})
    assert all(np.isnan(v) for v in tail_breakdown(np.zeros(0), {"a": np.zeros(0)}).values())


def test_late_ticks_as_a_percentage_of_the_ticks_after_the_warm_up() -> None:
    logs = _logs(duration=12.0)
    s = figures_from_logs(logs).summary
    n_ticks = int(np.count_nonzero(logs.prov_rows[:, 5] >= logs.imu_created.min() + logs.config.warmup))
    assert s["ticks"] == n_ticks
    assert s["late_ticks_percent"] == pytest.approx(100.0 * s["late_ticks"] / n_ticks)


def test_the_row_records_the_condition_the_policy_and_the_garbage_collector() -> None:
    logs = _logs(duration=12.0)
    fifo = {"label": "SCHED_FIFO 10"}
    scheduling = {"imu": {"label": "SCHED_FIFO 9"}, "consumer": {"label": "SCHED_FIFO 9"},
                  "sim": {"runner": fifo, "io": fifo, "main": fifo, "memory": {"label": "locked"}}}
    cfg = SessionConfig(fs=FS, block=2, duration=12.0, warmup=2.0, stress=2, priority="auto")
    row = config_row(cfg, figures_from_logs(logs), 12.0, scheduling, {"passes": [3, 0, 0]})
    assert (row["condition"], row["stress"], row["priority"]) == ("stress 2", 2, "auto")
    assert row["policy"] == policy_label(scheduling)
    assert row["policy"].startswith("sim runner SCHED_FIFO 10, I/O threads SCHED_FIFO 10, main thread SCHED_FIFO 10,"
                                    " memory locked; imu SCHED_FIFO 9; consumer SCHED_FIFO 9")
    assert row["scheduling"] == scheduling
    assert row["gc"] == {"passes": [3, 0, 0]}
    assert row_label(row) == cfg.label == "lsl armband8 2000 Hz block 2 stress 2"
    json.dumps(row)  # the row is JSON


def test_the_floor_counts_the_machine_stalls_after_the_warm_up() -> None:
    lateness = np.full(5000, 20e-6)
    lateness[100] = 50e-3  # in the warm-up (the first 1 s at 1 ms): left out
    lateness[3000] = 7e-3
    lateness[4000] = 2e-3
    fl = floor_figures(lateness, 1e-3, warmup=1.0)
    assert fl["wakeups"] == 4000
    assert (fl["stalls_over_1ms"], fl["stalls_over_5ms"]) == (2, 1)
    assert fl["max_ms"] == pytest.approx(7.0)
    assert fl["p50_ms"] == pytest.approx(0.02)
    assert floor_figures(np.zeros(0), 1e-3, 1.0)["wakeups"] == 0
