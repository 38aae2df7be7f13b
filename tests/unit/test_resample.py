"""The causal resampler onto the engine grid."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from realtime.core.block import Block
from realtime.stages.resample import CausalResampler


def _block(t: np.ndarray, x: np.ndarray, seq: int = 0) -> Block:
    return Block(np.ascontiguousarray(x, np.float32).reshape(len(t), 1), np.asarray(t, float), 0.0, seq, ("a",))


def test_linear_signal_is_reproduced_on_the_grid_whatever_the_input_jitter() -> None:
    rng = np.random.default_rng(1)
    t_in = 10.0 + np.cumsum(rng.uniform(0.005, 0.015, 300))  # ~100 Hz with jitter
    x_in = 3.0 * (t_in - 10.0) + 1.0
    rs = CausalResampler(("a",), 1000.0, stale_after=np.inf)
    rs.reset(t_in[0])
    out = []
    # Deliver the input in irregular chunks, pulling the grid samples due so far each time.
    i, n_pulled = 0, 0
    while i < t_in.size:
        j = min(t_in.size, i + int(rng.integers(1, 7)))
        rs.push(_block(t_in[i:j], x_in[i:j], i))
        i = j
        n_due = int(np.floor((t_in[j - 1] - t_in[0]) * 1000.0)) + 1 - n_pulled
        blk = rs.pull(n_due)
        n_pulled += n_due
        out.append(blk)
    t_out = np.concatenate([b.timestamps for b in out])
    y = np.concatenate([b.data[:, 0] for b in out])
    assert_allclose(np.diff(t_out), 1e-3, atol=1e-9)
    assert_allclose(y, 3.0 * (t_out - 10.0) + 1.0, atol=1e-4)


def test_holds_the_newest_value_beyond_the_input_and_never_looks_ahead() -> None:
    rs = CausalResampler(("a",), 100.0, stale_after=np.inf)
    rs.reset(0.0)
    rs.push(_block([0.0, 0.05], [0.0, 5.0]))
    blk = rs.pull(10)  # grid 0 .. 0.09 s
    assert_allclose(blk.data[:6, 0], [0, 1, 2, 3, 4, 5], atol=1e-5)
    assert_allclose(blk.data[6:, 0], 5.0)  # held, the future is unknown
    rs.push(_block([0.2], [100.0]))
    blk = rs.pull(2)  # 0.10, 0.11: interpolated between 5 @ 0.05 and 100 @ 0.2
    assert_allclose(blk.data[:, 0], [5 + 95 * (0.05 / 0.15), 5 + 95 * (0.06 / 0.15)], rtol=1e-5)


def test_initial_value_before_any_input_and_decay_to_rest_when_input_stops() -> None:
    rs = CausalResampler(("a",), 100.0, initial=np.array([0.1], np.float32), stale_after=0.1, decay_tau=0.05)
    rs.reset(0.0)
    assert_allclose(rs.pull(3).data[:, 0], 0.1)
    rs.push(_block([0.03], [1.0]))
    y = rs.pull(100).data[:, 0]  # grid 0.03 .. 1.02 s
    assert_allclose(y[:11], 1.0)  # held up to 0.13 s = newest + stale_after
    assert np.all(np.diff(y[11:]) <= 0)
    assert y[-1] == pytest.approx(0.1, abs=1e-3)


def test_empty_blocks_change_nothing_and_bad_arguments_are_named() -> None:
    rs = CausalResampler(("a",), 100.0)
    rs.reset(0.0)
    rs.push(_block(np.zeros(0), np.zeros(0)))
    assert rs.pull(0).n_samples == 0
    with pytest.raises(ValueError, match="fs_out"):
        CausalResampler(("a",), 0.0)
    with pytest.raises(ValueError, match="channels"):
        rs.push(Block(np.zeros((1, 2), np.float32), np.zeros(1), 0.0, 0, ("a", "b")))


def _numpy_pull(t_in: np.ndarray, x_in: np.ndarray, t_out: np.ndarray) -> np.ndarray:
    """The interpolation written with numpy, as it was before the kernel (the reference)."""
    out = np.empty((t_out.size, x_in.shape[1]), np.float32)
    if t_in.size == 1 or t_out[0] >= t_in[-1]:
        out[:] = x_in[-1]
        return out
    idx = np.clip(np.searchsorted(t_in, t_out, side="right") - 1, 0, t_in.size - 1)
    right = np.minimum(idx + 1, t_in.size - 1)
    t_l, t_r = t_in[idx], t_in[right]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where((right > idx) & np.isfinite(t_l), (t_out - t_l) / (t_r - t_l), 0.0)
    w = np.clip(w, 0.0, 1.0).astype(np.float32)[:, None]
    out[:] = x_in[idx] * (1.0 - w) + x_in[right] * w
    return out


def test_pull_is_bit_identical_to_its_numpy_definition() -> None:
    rng = np.random.default_rng(7)
    rs = CausalResampler(("a", "b", "c"), 2000.0, stale_after=np.inf)
    t0 = 1000.0 + rng.uniform()
    rs.reset(t0)
    t_last, n_pulled, seq = t0 - 0.01, 0, 0
    for _ in range(2000):
        k = int(rng.integers(0, 4))
        t = t_last + np.cumsum(rng.uniform(1e-5, 2e-3, k))
        if k:
            t_last = float(t[-1])
        x = rng.normal(0, 1, (k, 3)).astype(np.float32)
        rs.push(Block(x, t, 0.0, seq, ("a", "b", "c")))
        seq += k
        t_in, x_in = rs._t_in.copy(), rs._x_in.copy()
        n = int(rng.integers(1, 5))
        t_out = t0 + np.arange(n_pulled, n_pulled + n, dtype=np.float64) / 2000.0
        blk = rs.pull(n)
        n_pulled += n
        assert np.array_equal(blk.timestamps, t_out)
        assert np.array_equal(blk.data, _numpy_pull(t_in, x_in, t_out))
