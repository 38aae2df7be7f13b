"""Causal overlap-add of MUAPs into a time-major ring buffer (numba).

Each discharge of unit ``u`` at sample ``s`` adds ``muaps[u]`` (``L`` rows of
``C`` channels) into rows ``s .. s + L - 1`` of the output: always ``+=``, so
overlapping discharges sum. The ring holds ``n_rows >= max_block + L - 1``
rows of ``C`` float32; rows ``pos .. pos + L - 2`` carry the tails of earlier
discharges into the next block and every other row is zero. Because a
``(L, C)`` MUAP and ``L`` consecutive ring rows are both contiguous, one
discharge is one flat loop of ``L * C`` additions (two if it wraps).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def add_discharges(
    ring: np.ndarray,
    pos: int,
    spk_sample: np.ndarray,
    spk_unit: np.ndarray,
    n_spk: int,
    muaps_flat: np.ndarray,
) -> None:
    """Add the MUAP of each discharge into ``ring`` (in place).

    Parameters
    ----------
    ring : ndarray, shape (n_rows, C), float32, C-contiguous
        The ring buffer.
    pos : int
        Ring row of the block's first sample.
    spk_sample, spk_unit : ndarray of int32
        Sample (within the block) and unit of each discharge, in the order
        they are added (time-major, so the floating-point sums do not depend
        on how the signal is split into blocks).
    n_spk : int
        Number of valid entries in ``spk_sample``/``spk_unit``.
    muaps_flat : ndarray, shape (n_units, L * C), float32
        MUAP tables, each one flattened time-major.
    """
    n_rows, c = ring.shape
    flat = ring.reshape(n_rows * c)
    total = n_rows * c
    lc = muaps_flat.shape[1]
    for i in range(n_spk):
        # Unsigned indices: numba then skips negative-index wrapping and LLVM vectorises.
        start = np.uint64(((pos + spk_sample[i]) % n_rows) * c)
        u = np.uint64(spk_unit[i])
        first = np.uint64(min(lc, total - start))
        for k in range(first):
            flat[start + k] += muaps_flat[u, k]
        for k in range(first, np.uint64(lc)):
            flat[k - first] += muaps_flat[u, k]


@njit(cache=True)
def read_block(ring: np.ndarray, pos: int, out: np.ndarray) -> int:
    """Move the next ``out.shape[0]`` finished rows from ``ring`` into ``out`` and zero them.

    Returns
    -------
    int
        The ring row of the next block's first sample.
    """
    n_rows, c = ring.shape
    for r in range(out.shape[0]):
        row = (pos + r) % n_rows
        for j in range(c):
            out[r, j] = ring[row, j]
            ring[row, j] = 0.0
    return (pos + out.shape[0]) % n_rows
