"""Per-unit random streams for numba kernels (SplitMix64).

Every motor unit owns one 64-bit state. A draw advances only that unit's
state, so the sequence of draws of a unit depends on nothing but its own
history: splitting the signal into blocks of any size gives the same numbers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_TWO_PI = 2.0 * np.pi


def seed_states(seed: int, keys: np.ndarray) -> np.ndarray:
    """Initial states, one per key, from a master ``seed``.

    Parameters
    ----------
    seed : int
        Master seed (non-negative).
    keys : ndarray of int, shape (n,)
        A stable identifier per stream (e.g. ``muscle_id * 100000 + unit``);
        the same ``(seed, key)`` always gives the same state.

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    keys = np.asarray(keys, dtype=np.int64)
    out = np.empty(keys.size, dtype=np.uint64)
    for i, key in enumerate(keys.tolist()):
        out[i] = np.random.SeedSequence([int(seed), 0x6D796F, int(key)]).generate_state(
            1, np.uint64
        )[0]
    return out


@njit(cache=True, inline="always")
def next_u64(states: np.ndarray, i: int) -> np.uint64:
    """Advance stream ``i`` and return 64 random bits (SplitMix64)."""
    z = states[i] + _GOLDEN
    states[i] = z
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform(states: np.ndarray, i: int) -> float:
    """A uniform draw in ``(0, 1]`` from stream ``i``."""
    return (float(next_u64(states, i) >> _S11) + 1.0) * _TWO_M53


@njit(cache=True, inline="always")
def normal(states: np.ndarray, i: int) -> float:
    """A standard normal draw from stream ``i`` (Box-Muller, two uniforms)."""
    u1 = uniform(states, i)
    u2 = uniform(states, i)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
