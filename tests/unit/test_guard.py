"""The source boundary (realtime.stages.guard): hostile IMU values and timestamps are rejected, counted per
cause, logged once per interval and announced; what passes cannot make a later stage raise."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from realtime.app.runner import Pipeline, PipelineOutputs, PipelineSettings
from realtime.core.block import Block, regular_timestamps
from realtime.core.contract import StreamFormat
from realtime.core.units import IMU_CHANNELS
from realtime.stages.guard import GuardSettings, InputGuard


def _block(t: np.ndarray, x: np.ndarray, seq: int = 0) -> Block:
    return Block(np.ascontiguousarray(x, np.float32), np.asarray(t, float), 100.0, seq, IMU_CHANNELS)


def _still(n: int) -> np.ndarray:
    x = np.zeros((n, 6), np.float32)
    x[:, 2] = 9.81
    return x


def test_each_rule_rejects_and_counts_its_cause(fake_clock) -> None:
    guard = InputGuard(clock=fake_clock)
    now = fake_clock()
    t = now - 0.5 + 0.01 * np.arange(12)
    x = _still(12)
    x[1, 0] = np.nan
    x[2, 4] = np.inf
    x[3, 5] = 1e38  # finite and absurd: the crash of issue 12
    x[4, 0] = 1e30
    x[5, 3] = 40.0  # 2290 °/s: beyond the default ±2000 °/s
    x[6, 0] = 5e-324  # subnormal: harmless, kept
    t = t.copy()
    t[7] = np.nan
    t[8] = now + 1e12  # a garbage timestamp far in the future
    t[9] = 0.0  # and one far in the past
    t[10] = t[6]  # not advancing
    out = guard.process(_block(t, x, seq=100))
    assert out.n_samples == 3
    np.testing.assert_array_equal(out.aux["imu_seq"], [100, 106, 111])  # the rows keep their source index
    assert out.seq == 100
    assert guard.counts == {
        "non-finite value": 2, "accelerometer out of range": 1, "gyroscope out of range": 2,
        "non-finite timestamp": 1, "timestamp not advancing": 1, "timestamp in the future": 1,
        "timestamp too old": 1,
    }
    assert guard.accepted == 3
    # The last accepted time carries over to the next block: an older sample is rejected there.
    late = guard.process(_block([t[11] - 0.001, t[11] + 0.01], _still(2), seq=112))
    assert late.n_samples == 1
    assert guard.counts["timestamp not advancing"] == 2


def test_clean_blocks_pass_untouched(fake_clock) -> None:
    guard = InputGuard(clock=fake_clock)
    blk = _block(fake_clock() - 0.1 + 0.01 * np.arange(10), _still(10), seq=7)
    assert guard.process(blk) is blk
    assert guard.rejected == 0


def test_a_source_turning_to_garbage_is_announced_once_and_its_recovery_too(fake_clock, caplog) -> None:
    guard = InputGuard(GuardSettings(invalid_after_s=1.0, log_interval_s=5.0), clock=fake_clock)
    events, k = [], 0
    caplog.set_level(logging.WARNING, logger="myostream")
    for step in range(600):  # 6 s at 100 Hz in reads of one sample: NaN from 1 s to 4 s
        fake_clock.advance(0.01)
        x = _still(1)
        if 100 <= step < 400:
            x[:] = np.nan
        out = guard.process(_block([fake_clock()], x, seq=k))
        k += 1
        events += out.events.get("source_events", ())
    assert len(events) == 2
    assert events[0].startswith("source invalid: every sample rejected for 1.0 s (non-finite value: 10")
    assert events[1] == "source valid again"
    assert guard.counts["non-finite value"] == 300
    summaries = [r for r in caplog.records if "rejected" in r.getMessage() and "since the last report" in r.getMessage()]
    assert 1 <= len(summaries) <= 2  # one line per 5 s interval, never one per sample
    assert sum(int(r.getMessage().split("rejected ")[1].split()[0]) for r in summaries) <= 300


class HostileImu:
    """A 100 Hz source on the fake clock whose samples are hostile in turn: NaN, inf, 1e38 on the gyro for
    runs of five samples (valid CRC-checked frames can carry it), 1e30, subnormals, garbage timestamps."""

    fs = 100.0
    output_format = StreamFormat(fs=100.0, channels=IMU_CHANNELS)

    def __init__(self, clock) -> None:  # noqa: ANN001
        self.clock, self.running, self.k = clock, False, 0

    def start(self) -> None:
        self.running, self.t0, self.k = True, self.clock(), 0

    def stop(self) -> None:
        self.running = False

    def read(self) -> Block:
        n = max(int(np.floor((self.clock() - self.t0) * self.fs + 1e-9)) + 1 - self.k, 0)
        t = regular_timestamps(self.t0, self.fs, self.k, n)
        k = np.arange(self.k, self.k + n)
        x = np.zeros((n, 6), np.float32)
        x[:, 2] = 9.81
        x[:, 3] = np.sin(k / 20.0)
        kind = (k // 5) % 8
        x[kind == 1, 3] = 1e38
        x[kind == 2, 0] = np.nan
        x[kind == 3, 4] = np.inf
        x[kind == 4, 5] = -1e30
        x[kind == 5, 1] = 1e-40  # subnormal float32
        t = t.copy()
        t[kind == 6] = t[kind == 6] + 1e9
        t[kind == 7] = np.where(k[kind == 7] % 2, -1e9, np.nan)
        blk = Block(x, t, self.fs, self.k, IMU_CHANNELS)
        self.k += n
        return blk


def test_hostile_values_cannot_make_the_network_or_the_engine_raise(fake_clock) -> None:
    from realtime.stages.engine import EmgEngine, EngineSettings
    from realtime.stages.model.stage import ModelActivationStage

    class Sink:
        def __init__(self) -> None:
            self.blocks: list[Block] = []

        def write(self, block: Block) -> None:
            self.blocks.append(block)

    emg, markers = Sink(), []
    pipe = Pipeline(HostileImu(fake_clock), ModelActivationStage(None),
                    [EmgEngine(EngineSettings(fs=1000.0, units_per_muscle=10))],
                    PipelineOutputs(emg=emg, markers=lambda text, ts: markers.append(text)),
                    PipelineSettings(fs=1000.0, block_size=4, duration=3.0), clock=fake_clock, sleep=fake_clock.sleep)
    pipe.run()
    x = np.concatenate([b.data for b in emg.blocks])
    assert x.shape == (3000, 8)
    assert np.isfinite(x).all()
    assert np.abs(x).max() < 2000.0  # µV: no absurd drive reached the engine
    counts = pipe.guard.counts
    assert counts["gyroscope out of range"] > 0
    assert counts["non-finite value"] > 0
    assert counts["timestamp in the future"] > 0
    assert counts["timestamp too old"] > 0
    assert counts["non-finite timestamp"] > 0
    assert pipe.guard.accepted > 0
    assert markers[0] == "myostream: start"
    assert markers[-1] == "myostream: stop"


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="'acc_limit'"):
        GuardSettings(acc_limit=0.0)
    with pytest.raises(TypeError, match="'clock'"):
        InputGuard()


def _numpy_rules(x: np.ndarray, t: np.ndarray, now: float, t_last: float,
                 s: GuardSettings) -> tuple[np.ndarray, dict[str, int], float]:
    """The guard's rules written with numpy, as they were before the kernel (the reference)."""
    counts: dict[str, int] = {}
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x).all(axis=1)
        acc_ok = (np.abs(x[:, :3]) <= s.acc_limit).all(axis=1)
        gyro_ok = (np.abs(x[:, 3:6]) <= s.gyro_limit).all(axis=1)
    reasons = ((~finite, "non-finite value"), (~acc_ok, "accelerometer out of range"),
               (~gyro_ok, "gyroscope out of range"), (~np.isfinite(t), "non-finite timestamp"),
               (t > now + s.future_s, "timestamp in the future"), (t < now - s.max_age_s, "timestamp too old"))
    keep = np.ones(t.size, bool)
    for bad, cause in reasons:
        hit = bad & keep
        if hit.any():
            counts[cause] = int(hit.sum())
            keep &= ~bad
    if keep.any():
        idx = np.flatnonzero(keep)
        tk = t[idx]
        running = np.maximum.accumulate(np.concatenate(([t_last], tk)))[:-1]
        stale = tk <= running
        if stale.any():
            counts["timestamp not advancing"] = int(stale.sum())
            keep[idx[stale]] = False
            tk = tk[~stale]
        if tk.size:
            t_last = float(tk[-1])
    return keep, counts, t_last


def test_rules_match_their_numpy_definition_on_random_hostile_blocks(fake_clock) -> None:
    rng = np.random.default_rng(12)
    s = GuardSettings()
    guard = InputGuard(s, clock=fake_clock)
    t_last = -np.inf
    specials = np.array([np.nan, np.inf, -np.inf, 1e38, -1e30, 5e-324, s.acc_limit, -s.acc_limit,
                         np.float32(s.acc_limit), np.nextafter(np.float32(s.acc_limit), np.float32(1e9)),
                         s.gyro_limit, np.nextafter(np.float32(s.gyro_limit), np.float32(1e9))], np.float32)
    for _ in range(300):
        fake_clock.advance(0.01)
        now = fake_clock()
        n = int(rng.integers(0, 9))
        x = _still(n) + rng.normal(0, 50, (n, 6)).astype(np.float32)
        hit = rng.random((n, 6)) < 0.08
        x[hit] = rng.choice(specials, int(hit.sum()))
        t = now - rng.uniform(-0.05, 0.2, n)
        odd = rng.random(n) < 0.1
        t[odd] = rng.choice([np.nan, np.inf, now + 5.0, now - 100.0, t_last], int(odd.sum()))
        before = dict(guard.counts)
        keep_ref, counts_ref, t_last = _numpy_rules(x, t, now, t_last, s)
        out = guard.process(_block(t, x))
        assert out.n_samples == int(keep_ref.sum())
        assert np.array_equal(out.timestamps, t[keep_ref])
        assert {c: k - before[c] for c, k in guard.counts.items() if k > before[c]} == counts_ref
