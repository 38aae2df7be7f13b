"""Causal overlap-add of posture-blended, int16-quantised MUAPs into a time-major buffer (numba).

Each discharge of unit ``u`` at block sample ``s`` adds its MUAP (``rows[u]``
rows of ``C`` channels) into rows ``s .. s + rows[u] - 1`` of the
accumulator: always ``+=``, so overlapping discharges sum. The MUAP is the
blend of ``d + 1`` tables of the unit's posture grid, with the weights of the
posture at the discharge sample (:func:`~realtime.engine.posture.simplex_weights`),
computed once per muscle and sample. A ``(rows, C)`` table and the
accumulator rows are both contiguous, so one discharge is one flat, fused
loop over ``rows * C`` elements reading ``d + 1`` int16 streams.

The accumulator has ``max_block + L - 1`` rows: the block's rows first, then
the tails of MUAPs that run past the block. :func:`read_block` moves the
block out and shifts the tails to the front, so each output sample receives
its additions in discharge order whatever the block split (streaming equals
offline bit for bit).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from realtime.engine.posture import simplex_weights


@njit(cache=True)
def add_discharges(
    acc: np.ndarray,
    spk_sample: np.ndarray,
    spk_unit: np.ndarray,
    n_spk: int,
    angles: np.ndarray,
    unit_info: np.ndarray,
    grid_int: np.ndarray,
    grid_float: np.ndarray,
    neutral: np.ndarray,
    data: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    w_index: np.ndarray,
    w_value: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Add the blended MUAP of each discharge into ``acc`` (in place).

    Parameters
    ----------
    acc : ndarray, shape (n_rows, C), float32, C-contiguous
        The accumulator; row ``s`` is block sample ``s``.
    spk_sample, spk_unit : ndarray of int32
        Sample (within the block) and unit of each discharge, in time order.
    n_spk : int
        Number of valid discharges.
    angles : ndarray, shape (>= n, 3), float32
        Posture of each block sample (rad, ``JOINTS`` order).
    unit_info, data, scale, offset
        See :class:`~realtime.engine.tables.MuapTables`.
    grid_int : ndarray of int64, shape (3, n_muscles, 3)
        Joint, size and stride of each grid axis (``PostureGrid``).
    grid_float : ndarray of float64, shape (2, n_muscles, 3)
        First node and spacing of each grid axis.
    neutral : ndarray, shape (3,)
        Posture used for NaN angles.
    w_index : ndarray of int64, shape (n_muscles, 6)
        Scratch: per muscle the sample of the cached weights, their count and node indices.
    w_value : ndarray of float32, shape (n_muscles, 4)
        Scratch: the cached weights.
    """
    n_c = acc.shape[1]
    flat = acc.reshape(acc.size)
    w_index[:, 0] = -1
    zero = np.float32(0.0)
    for i in range(n_spk):
        t = spk_sample[i]
        u = spk_unit[i]
        rows = unit_info[u, 0]
        first = unit_info[u, 1]
        m = unit_info[u, 2]
        if w_index[m, 0] != t:
            w_index[m, 0] = t
            w_index[m, 1] = simplex_weights(
                angles[t],
                grid_int[0, m],
                grid_float[0, m],
                grid_float[1, m],
                grid_int[1, m],
                grid_int[2, m],
                neutral,
                w_index[m, 2:],
                w_value[m],
            )
        # Gather the non-zero terms: coefficient (weight x scale) and table start.
        n_terms = 0
        c0 = c1 = c2 = c3 = zero
        o0 = o1 = o2 = o3 = np.uint64(0)
        for k in range(w_index[m, 1]):
            w = w_value[m, k]
            if w == zero:
                continue
            tab = first + w_index[m, 2 + k]
            c = w * scale[tab]
            o = np.uint64(offset[tab])
            if n_terms == 0:
                c0, o0 = c, o
            elif n_terms == 1:
                c1, o1 = c, o
            elif n_terms == 2:
                c2, o2 = c, o
            else:
                c3, o3 = c, o
            n_terms += 1
        start = np.uint64(t * n_c)
        lc = np.uint64(rows * n_c)
        # Unsigned indices: numba then skips negative-index wrapping and LLVM vectorises.
        if n_terms == 1:
            for k in range(lc):
                flat[start + k] += c0 * np.float32(data[o0 + k])
        elif n_terms == 2:
            for k in range(lc):
                flat[start + k] += c0 * np.float32(data[o0 + k]) + c1 * np.float32(data[o1 + k])
        elif n_terms == 3:
            for k in range(lc):
                flat[start + k] += (
                    c0 * np.float32(data[o0 + k])
                    + c1 * np.float32(data[o1 + k])
                    + c2 * np.float32(data[o2 + k])
                )
        elif n_terms == 4:
            for k in range(lc):
                flat[start + k] += (
                    c0 * np.float32(data[o0 + k])
                    + c1 * np.float32(data[o1 + k])
                    + c2 * np.float32(data[o2 + k])
                    + c3 * np.float32(data[o3 + k])
                )


@njit(cache=True)
def read_block(acc: np.ndarray, out: np.ndarray, n_tail: int) -> None:  # pragma: no cover - numba
    """Move the block's ``out.shape[0]`` rows from ``acc`` into ``out``; shift the tails to the front.

    Parameters
    ----------
    acc : ndarray, shape (n_rows, C), float32
        The accumulator.
    out : ndarray, shape (n, C), float32
        Receives rows ``0 .. n - 1``.
    n_tail : int
        Rows after the block that may hold MUAP tails (``L - 1``); they move to
        rows ``0 .. n_tail - 1`` and the rows they leave are zeroed.
    """
    n = out.shape[0]
    c = acc.shape[1]
    flat = acc.reshape(acc.size)
    dst = out.reshape(out.size)
    nc = np.uint64(n * c)
    for k in range(nc):
        dst[k] = flat[k]
    tail = np.uint64(n_tail * c)
    for k in range(tail):  # forward copy: the destination is always before the source
        flat[k] = flat[nc + k]
    for k in range(tail, tail + nc):
        flat[k] = np.float32(0.0)
