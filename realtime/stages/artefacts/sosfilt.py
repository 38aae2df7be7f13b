"""A streaming second-order-sections filter in numba (in place, state carried across blocks).

The same recurrence as ``scipy.signal.sosfilt`` (transposed direct form II,
``a0 = 1``) without its per-call Python overhead, which dominates for the
runner's blocks of a few samples.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def sosfilt_inplace(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:  # pragma: no cover - numba
    """Filter the columns of ``x`` (``(n, C)`` float64) in place; ``zi`` ``(n_sections, 2, C)`` is updated."""
    n, n_ch = x.shape
    for s in range(sos.shape[0]):
        b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
        a1, a2 = sos[s, 4], sos[s, 5]
        for j in range(n_ch):
            z0 = zi[s, 0, j]
            z1 = zi[s, 1, j]
            for i in range(n):
                xi = x[i, j]
                yi = b0 * xi + z0
                z0 = b1 * xi - a1 * yi + z1
                z1 = b2 * xi - a2 * yi
                x[i, j] = yi
            zi[s, 0, j] = z0
            zi[s, 1, j] = z1


def normalised_sos(sos: np.ndarray) -> np.ndarray:
    """``sos`` as C-contiguous float64 with every ``a0`` equal to 1."""
    sos = np.array(sos, np.float64, order="C")
    a0 = sos[:, 3:4].copy()
    sos[:, :3] /= a0
    sos[:, 3:] /= a0
    return sos
