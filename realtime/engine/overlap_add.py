"""Causal overlap-add of posture-blended, int16-quantised MUAPs into a time-major buffer (numba).

Each discharge of unit ``u`` at block sample ``s`` adds its MUAP (``rows[u]``
rows of ``C`` channels, zero-padded to a multiple of 16 values) into rows
``s .. s + rows[u] - 1`` of the accumulator: always ``+=``, so overlapping
discharges sum. The MUAP is the
blend of ``d + 1`` tables of the unit's posture grid, with the weights of the
posture at the discharge sample (:func:`~realtime.engine.posture.simplex_weights`),
computed once per muscle and sample. A ``(rows, C)`` table and the
accumulator rows are both contiguous, so one discharge is one flat, fused
loop over ``rows * C`` elements reading ``d + 1`` int16 streams (products
and sums fused into FMAs: ``fastmath={"contract"}`` only, no reassociation,
so every value is computed by the same instructions for any block split).

The accumulator is a flat float32 buffer of ``(max_block + L - 1) * C + 16``
values: the block's rows first, then the tails of MUAPs that run past the
block, then room for the zero padding of a table that ends in the last row. :func:`read_block` moves the
block out and shifts the tails to the front, so each output sample receives
its additions in discharge order whatever the block split (streaming equals
offline bit for bit).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from realtime.engine.posture import simplex_weights


@njit(cache=True, fastmath={"contract"})
def add_discharges(
    acc: np.ndarray,
    n_c: int,
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
    w_index: np.ndarray,
    w_value: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Add the blended MUAP of each discharge into ``acc`` (in place).

    Parameters
    ----------
    acc : ndarray, shape (n_rows * C + 16,), float32
        The accumulator, flat time-major; row ``s`` (block sample ``s``) starts at ``s * C``.
    n_c : int
        Channels ``C``.
    spk_sample, spk_unit : ndarray of int32
        Sample (within the block) and unit of each discharge, in time order.
    n_spk : int
        Number of valid discharges.
    angles : ndarray, shape (>= n, 3), float32
        Posture of each block sample (rad, ``JOINTS`` order).
    unit_info, data, scale
        See :class:`~realtime.engine.tables.MuapTables`.
    grid_int : ndarray of int64, shape (3, n_muscles, 3)
        Joint, size and stride of each grid axis (``PostureGrid``).
    grid_float : ndarray of float64, shape (2, n_muscles, 3)
        First node and inverse spacing of each grid axis (:meth:`PostureGrid.kernel_arrays`).
    neutral : ndarray, shape (3,)
        Posture used for NaN angles.
    w_index : ndarray of int64, shape (n_muscles, 6)
        Scratch: per muscle the sample of the cached weights, their count and node indices.
    w_value : ndarray of float32, shape (n_muscles, 4)
        Scratch: the cached weights.
    """
    w_index[:, 0] = -1
    zero = np.float32(0.0)
    for i in range(n_spk):
        t = spk_sample[i]
        u = spk_unit[i]
        off = unit_info[u, 1]
        m = unit_info[u, 2]
        seg = unit_info[u, 3]
        sc = scale[u]
        c0 = c1 = c2 = c3 = zero
        o0 = o1 = o2 = o3 = np.uint64(0)
        if grid_int[0, m, 0] < 0:  # posture-independent muscle: one table
            n_terms = 1
            c0, o0 = sc, np.uint64(off)
        else:
            if w_index[m, 0] != t:  # weights of this muscle at this sample, once
                w_index[m, 0] = t
                w_index[m, 1] = simplex_weights(
                    angles, t, grid_int, grid_float, m, neutral, w_index, w_value
                )
            # Coefficients (weight x scale) and table starts of the d + 1 terms.
            n_terms = w_index[m, 1]
            c0 = w_value[m, 0] * sc
            o0 = np.uint64(off + w_index[m, 2] * seg)
            if n_terms > 1:
                c1 = w_value[m, 1] * sc
                o1 = np.uint64(off + w_index[m, 3] * seg)
            if n_terms > 2:
                c2 = w_value[m, 2] * sc
                o2 = np.uint64(off + w_index[m, 4] * seg)
            if n_terms > 3:
                c3 = w_value[m, 3] * sc
                o3 = np.uint64(off + w_index[m, 5] * seg)
        # Unsigned indices: numba then skips negative-index wrapping and LLVM vectorises.
        start = np.uint64(t * n_c)
        lc = np.uint64(seg)
        if n_terms == 1:
            for k in range(lc):
                acc[start + k] += c0 * np.float32(data[o0 + k])
        elif n_terms == 2:
            for k in range(lc):
                acc[start + k] += c0 * np.float32(data[o0 + k]) + c1 * np.float32(data[o1 + k])
        elif n_terms == 3:
            for k in range(lc):
                acc[start + k] += (
                    c0 * np.float32(data[o0 + k])
                    + c1 * np.float32(data[o1 + k])
                    + c2 * np.float32(data[o2 + k])
                )
        elif n_terms == 4:
            for k in range(lc):
                acc[start + k] += (
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
    acc : ndarray, shape (n_rows * C + 16,), float32
        The flat accumulator.
    out : ndarray, shape (n, C), float32
        Receives rows ``0 .. n - 1``.
    n_tail : int
        Rows after the block that may hold MUAP tails (``L - 1``); they move to
        rows ``0 .. n_tail - 1`` and the rows they leave are zeroed.
    """
    n, c = out.shape
    dst = out.reshape(out.size)
    nc = np.uint64(n * c)
    for k in range(nc):
        dst[k] = acc[k]
    tail = np.uint64(n_tail * c)
    for k in range(tail):  # forward copy: the destination is always before the source
        acc[k] = acc[nc + k]
    for k in range(tail, tail + nc):
        acc[k] = np.float32(0.0)
