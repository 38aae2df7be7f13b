"""IMU-rate → model-rate causal resampling on known signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtime.stages.model.resample import ImuResampler, resample_imu


def _ramp(t: np.ndarray) -> np.ndarray:
    """A signal that linear interpolation reproduces exactly: piecewise linear in t per channel."""
    return np.stack([a * t + b for a, b in zip(np.linspace(-2, 3, 6), np.linspace(0, 1, 6))], axis=1)


@pytest.mark.parametrize("fs_in", [50.0, 100.0, 333.0, 1000.0])
def test_linear_signal_is_exact_without_filter(fs_in: float) -> None:
    rng = np.random.default_rng(0)
    t = 10.0 + np.cumsum(rng.uniform(0.6, 1.4, int(4 * fs_in)) / fs_in)  # +-40 % jitter
    t_grid, x_grid = resample_imu(t, _ramp(t), 100.0, cutoff_hz=0.0)
    assert t_grid[0] == t[0]
    np.testing.assert_allclose(np.diff(t_grid), 0.01, atol=1e-9)
    assert t_grid[-1] <= t[-1] < t_grid[-1] + 0.01  # every grid time up to the newest input, no further
    np.testing.assert_allclose(x_grid, _ramp(t_grid), rtol=1e-5, atol=1e-4)


def test_sine_amplitude_and_delay_with_filter() -> None:
    """A 2 Hz sine sampled at 1 kHz: unit gain, delay close to the filter's 2*tau."""
    fs_in, f = 1000.0, 2.0
    t = np.arange(0, 6, 1 / fs_in)
    x = np.repeat(np.sin(2 * np.pi * f * t)[:, None], 6, axis=1)
    rs = ImuResampler(100.0, 6)
    assert rs.cutoff_hz == 25.0
    out, seq = rs.process(t, x)
    tg = rs.t0 + np.arange(seq, seq + len(out)) / 100.0
    late = tg > 1.0  # after the start transient
    # Phase of the output relative to the input sine gives the delay.
    y = out[late, 0].astype(np.float64)
    c = y @ np.cos(2 * np.pi * f * tg[late])
    s = y @ np.sin(2 * np.pi * f * tg[late])
    amp = 2 * math.hypot(c, s) / late.sum()
    delay = math.atan2(-c, s) / (2 * np.pi * f)
    assert amp == pytest.approx(1.0, abs=0.02)
    assert delay == pytest.approx(rs.delay_s, rel=0.1)
    assert 0.005 < delay < 0.02


def test_high_frequency_noise_is_attenuated() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(0, 20, 1e-3)
    x = rng.normal(size=(t.size, 6))
    _, xg = resample_imu(t, x, 100.0)
    # Plain decimation keeps the variance (1); the anti-alias filter removes most of it.
    assert xg[10:].std() < 0.35


def test_chunked_equals_whole_and_timestamps() -> None:
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.uniform(0.5, 1.5, 3000)) / 500.0
    x = np.sin(t[:, None] * np.arange(1, 7)) + rng.normal(size=(3000, 6)) * 0.1
    _, whole = resample_imu(t, x, 100.0)
    rs = ImuResampler(100.0, 6)
    parts, i, expect_seq = [], 0, 0
    for n in [0, 1, 1, 3, 0, 17, 400] + [int(v) for v in rng.integers(0, 60, 200)]:
        out, seq = rs.process(t[i : i + n], x[i : i + n])
        assert seq == expect_seq
        expect_seq += len(out)
        parts.append(out.copy())
        i += n
        if i >= len(t):
            break
    np.testing.assert_array_equal(np.concatenate(parts), whole[: sum(len(p) for p in parts)])


def test_bad_samples_are_dropped_and_counted() -> None:
    t = np.arange(10) * 0.01
    x = _ramp(t)
    x[3, 2] = np.nan
    t = t.copy()
    t[6] = t[5]  # timestamp does not advance
    rs = ImuResampler(100.0, 6, cutoff_hz=0.0)
    out, _ = rs.process(t, x)
    assert rs.n_dropped == 2
    assert np.all(np.isfinite(out))
    # Grid times 0.03 and 0.06 are interpolated across the dropped samples.
    np.testing.assert_allclose(out[:9], _ramp(np.arange(9) * 0.01), atol=1e-5)
    rs.reset()
    assert rs.n_dropped == 0
    assert not rs.started


def test_upsampling_from_50_hz_emits_as_soon_as_bracketed() -> None:
    rs = ImuResampler(200.0, 6, cutoff_hz=0.0)
    out, seq = rs.process(np.array([0.0]), _ramp(np.array([0.0])))
    assert (len(out), seq) == (1, 0)
    out, seq = rs.process(np.array([0.02]), _ramp(np.array([0.02])))  # completes grid 1..4
    assert (len(out), seq) == (4, 1)
    np.testing.assert_allclose(out, _ramp(np.arange(1, 5) * 0.005), atol=1e-6)
    out, seq = rs.process(np.zeros(0), np.zeros((0, 6)))
    assert (len(out), seq) == (0, 5)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="'fs_out'"):
        ImuResampler(0.0)
    with pytest.raises(ValueError, match="'cutoff_hz'"):
        ImuResampler(100.0, cutoff_hz=60.0)
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        ImuResampler(100.0).process(np.zeros(3), np.zeros((3, 5)))
