"""Device clock -> LSL clock fit, and sample continuity (gaps, wraps, restarts)."""

from __future__ import annotations

import numpy as np
import pytest

from devices.clock_sync import MIN_STEP_S, ClockSync
from devices.continuity import ContinuityTracker
from devices.formats.base import FrameBatch


def _simulate(cs: ClockSync, n: int, fs: float, drift_ppm: float, seed: int, batch: int = 5,
              x0: float = 123.0, t0: float = 5000.0) -> tuple[np.ndarray, np.ndarray]:
    """Samples taken at true times t0 + k/fs, stamped by a drifting device clock, delivered in
    batches with positive random delays (1 ms floor, exponential jitter, 1 % stalled by 50 ms)."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    x = x0 + k / fs * (1 + drift_ppm * 1e-6)
    true = t0 + k / fs
    delay = 0.001 + rng.exponential(0.002, n)
    delay[rng.random(n) < 0.01] += 0.05
    arrival = true + delay
    out = [cs.map(x[i:i + batch], arrival[i:i + batch].max()) for i in range(0, n, batch)]
    return np.concatenate(out), true


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_offset_and_drift_despite_delays(seed: int) -> None:
    cs = ClockSync()
    t, true = _simulate(cs, 30000, 1000.0, drift_ppm=80.0, seed=seed)
    assert cs.fitted
    assert cs.slope == pytest.approx(1 / (1 + 80e-6), abs=1e-5)
    err = (t - true)[-10000:]
    # The map sits on the lower envelope: the minimum transport delay (1 ms) plus a little,
    # with far less spread than the raw delays (exponential 2 ms + 50 ms stalls).
    assert 0.0009 < np.median(err) < 0.0016
    assert np.ptp(np.percentile(err, [1, 99])) < 0.0005
    assert np.all(np.diff(t) >= 0)


def test_never_after_arrival_and_strictly_increasing() -> None:
    cs = ClockSync()
    x = np.arange(2000) / 100.0
    arrival = 10.0 + x + 0.002
    arrival[1000:1010] -= 0.01  # arrivals earlier than the envelope predicts (< jump_s): clamped
    t = np.concatenate([cs.map(x[i:i + 10], arrival[i:i + 10]) for i in range(0, 2000, 10)])
    # A clamped sample that would tie with the previous one goes MIN_STEP_S after it (never a tie).
    assert np.all(t <= arrival + 10 * MIN_STEP_S)
    assert np.all(np.diff(t) > 0)


def test_a_burst_read_in_chunks_keeps_every_sample_in_order() -> None:
    # A device without a live link buffers 5 s (500 samples) and delivers them at once, every 5 s; the
    # reader sees each burst in 4 chunks arriving together. Every sample gets its own increasing time,
    # and once the least-delayed sample is known, the device spacing is kept exactly.
    cs = ClockSync(max_rate_error=0.01)
    out = []
    for burst in range(6):
        x = (burst * 500 + np.arange(500)) / 100.0
        arrival = 100.0 + (burst + 1) * 5.0 + 0.003
        out.append(np.concatenate([cs.map(x[i:i + 125], arrival + 1e-4 * i) for i in range(0, 500, 125)]))
    t = np.concatenate(out)
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(np.diff(np.concatenate(out[2:])), 0.01, atol=1e-9)
    assert abs(t[-1] - (100.0 + 30.0 + 0.003 + 1e-4 * 375)) < 1e-9  # the newest sample: when its chunk arrived


def test_forward_clock_jump_restarts_fit() -> None:
    cs = ClockSync()
    x = np.arange(500) / 100.0
    cs.map(x, 100.0 + x[-1] + 0.001)
    t = cs.map(np.array([5.0, 5.01]) + 3.0, 100.0 + 5.02)  # device clock jumped 3 s ahead
    assert cs.resets == 1
    assert t[-1] <= 100.0 + 5.02


def test_implausible_rate_falls_back_to_offset() -> None:
    cs = ClockSync(max_rate_error=0.01)
    x = np.arange(1000) / 100.0  # device claims 100 Hz ...
    arrival = 50.0 + 2.0 * x + 0.001  # ... but samples come at 50 Hz
    t = np.concatenate([cs.map(x[i:i + 10], arrival[i:i + 10]) for i in range(0, 1000, 10)])
    assert not cs.fitted
    assert cs.slope == 1.0
    assert np.all(t <= arrival + 1e-12)
    assert np.all(np.diff(t) >= 0)


def test_wide_rate_tolerance_learns_the_true_rate() -> None:
    cs = ClockSync(max_rate_error=0.95)
    x = np.arange(3000) / 100.0  # index / nominal 100 Hz, device really at 250 Hz
    arrival = 50.0 + x * 0.4 + 0.001
    t = np.concatenate([cs.map(x[i:i + 10], arrival[i:i + 10]) for i in range(0, 3000, 10)])
    assert cs.fitted
    assert cs.slope == pytest.approx(0.4, rel=1e-3)
    np.testing.assert_allclose(t[-500:], arrival[-500:] - 0.0, atol=5e-4)


def test_clock_sync_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="'bin_s' must be a number > 0"):
        ClockSync(bin_s=0)
    with pytest.raises(ValueError, match="3 \\* bin_s <= min_span_s <= window_s"):
        ClockSync(window_s=1.0, min_span_s=2.0)
    with pytest.raises(RuntimeError, match="map"):
        ClockSync().predict(np.zeros(1))


# --------------------------------------------------------------------------- continuity
def _batch(counter, times=None, modulus=65536, tmod=2**32 * 1e-6, from_device=True) -> FrameBatch:
    c = np.asarray(counter, np.int64)
    t = None if times is None else np.asarray(times, np.float64)
    return FrameBatch(np.arange(c.size * 6, dtype=np.float32).reshape(-1, 6), c, modulus if from_device else 0,
                      from_device, t, tmod if t is not None else 0.0)


def test_counter_wrap_gap_and_duplicate() -> None:
    tr = ContinuityTracker()
    segs = tr.update(_batch([65533, 65534, 65535, 0, 3, 3, 4], [1, 2, 3, 4, 7, 7, 8]))
    assert len(segs) == 1
    assert segs[0].index.tolist() == [0, 1, 2, 3, 6, 7]
    assert segs[0].samples.shape == (6, 6)
    assert (tr.seq_gaps, tr.samples_lost, tr.duplicates, tr.restarts) == (1, 2, 1, 0)
    segs = tr.update(_batch([5, 6]))
    assert segs[0].index.tolist() == [8, 9]
    assert tr.next_index == 10


def test_device_time_wraps_after_2_to_32_us() -> None:
    tr = ContinuityTracker()
    period = 2**32 * 1e-6
    seg = tr.update(_batch([0, 1, 2], [period - 0.002, period - 0.001, 0.0]))[0]
    np.testing.assert_allclose(seg.device_time, [period - 0.002, period - 0.001, period])
    seg = tr.update(_batch([3], [0.001]))[0]
    np.testing.assert_allclose(seg.device_time, [period + 0.001])


def test_restart_splits_and_continues_the_index() -> None:
    tr = ContinuityTracker()
    tr.update(_batch([100, 101], [5.0, 5.001]))
    segs = tr.update(_batch([102, 0, 1], [5.002, 0.0, 0.001]))  # the device rebooted
    assert [s.index.tolist() for s in segs] == [[2], [3, 4]]
    assert [s.restarted for s in segs] == [False, True]
    assert tr.restarts == 1
    assert tr.seq_gaps == 0
    segs = tr.update(_batch([0, 1], [0.0, 0.001]))  # a restart at the very first sample of a batch
    assert segs[0].restarted
    assert segs[0].index.tolist() == [5, 6]


def test_estimated_counter_and_skip() -> None:
    tr = ContinuityTracker()
    seg = tr.update(_batch([0, 1, 3], from_device=False))[0]
    assert seg.index.tolist() == [0, 1, 3]
    assert tr.seq_gaps == 1
    tr.skip(10)
    seg = tr.update(_batch([4, 5], from_device=False))[0]
    assert seg.index.tolist() == [14, 15]
