"""The per-unit random streams: the clipped normal used for the ISI jitter."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numba import njit

from realtime.stages.engine.rng import (
    QUANTILE_INTERVALS,
    Z_CLIP,
    clipped_normal,
    clipped_normal_quantiles,
    seed_states,
)


@njit(cache=True)
def _draws(states: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    out = np.empty((states.size, n), np.float32)
    for i in range(states.size):
        for k in range(n):
            out[i, k] = clipped_normal(states, i)
    return out


def test_quantile_table_is_the_clipped_normal_quantile_function() -> None:
    q = clipped_normal_quantiles()
    assert q.shape == (QUANTILE_INTERVALS + 1,)
    assert q[0] == -Z_CLIP
    assert q[-1] == Z_CLIP
    assert np.all(np.diff(q) >= 0.0)
    k = QUANTILE_INTERVALS // 4
    assert abs(q[k] - NormalDist().inv_cdf(0.25)) < 1e-6
    assert np.allclose(
        q[: QUANTILE_INTERVALS // 2 + 1], -q[QUANTILE_INTERVALS // 2 :][::-1], atol=1e-6
    )


def test_clipped_normal_has_the_clipped_normal_distribution() -> None:
    z = _draws(seed_states(3, np.arange(50)), 20_000).ravel().astype(np.float64)
    assert z.min() >= -Z_CLIP
    assert z.max() <= Z_CLIP
    assert abs(z.mean()) < 0.01  # 1e6 draws: standard error 0.001
    # N(0, 1) clipped at +-3 (the tails sit at +-3): variance 0.9973 - 6 phi(3) + 9 * 0.0027 = 0.9950.
    assert abs(z.std() - 0.9975) < 0.005
    dist = NormalDist()
    for p in (0.01, 0.1, 0.5, 0.9, 0.99):
        assert abs(np.quantile(z, p) - dist.inv_cdf(p)) < 0.02, p
    # About 0.135 % of the draws sit at each clip.
    assert 0.0009 < np.mean(z <= -Z_CLIP + 1e-6) < 0.0018


def test_streams_are_independent_of_each_other() -> None:
    states = seed_states(7, np.arange(4))
    alone = _draws(states[2:3].copy(), 100)[0]
    together = _draws(states.copy(), 100)[2]
    assert np.array_equal(alone, together)
    assert abs(np.corrcoef(_draws(states.copy(), 5000)[:2])[0, 1]) < 0.05
