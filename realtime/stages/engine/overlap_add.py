"""Causal overlap-add of posture-blended, int16-quantised MUAPs into a time-major buffer (numba).

Each discharge of unit ``u`` at block sample ``s`` adds its MUAP (``rows[u]``
rows of ``C`` channels, zero-padded to a multiple of 16 values) into rows
``s .. s + rows[u] - 1`` of the accumulator: always ``+=``, so overlapping
discharges sum. The MUAP is the blend of ``d + 1`` tables of the unit's
posture grid with the weights of the posture at the discharge sample
(:func:`~realtime.stages.engine.posture.simplex_weights`).

Per block, :func:`add_discharges`

1. computes the blend weights of every posture-dependent muscle at every
   sample up to the last discharge, once (a sample whose angles equal the
   previous sample's reuses its weights: same inputs, same numbers);
2. adds each discharge: the coefficients (weight x the unit's scale) and
   table starts of its ``d + 1`` terms, then one flat loop over
   ``rows * C`` values reading ``d + 1`` int16 streams, each term one fused
   multiply-add into the accumulator in node order
   (``acc = c_d t_d + (... + (c_0 t_0 + acc))``; ``fastmath={"contract"}``
   only, no reassociation), so every value is computed by the same
   instructions for any block split. Meanwhile the tables of the discharge
   :data:`PREFETCH_AHEAD` places later are prefetched, up to
   :data:`PREFETCH_LINES` cache lines each (they would otherwise come from main memory with
   the loop waiting).

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

from realtime.stages.engine.intrinsics import prefetch
from realtime.stages.engine.posture import MAX_AXES, simplex_weights

PREFETCH_AHEAD = 3
"""While discharge ``i`` is added, the tables of discharge ``i + PREFETCH_AHEAD`` are prefetched."""

PREFETCH_LINES = 12
"""Cap on the cache lines (64 bytes = 32 int16 values) prefetched at the start of each of those
tables (an armband8 table at 2 kHz is 11 lines on average); the hardware prefetcher follows longer
streams. With the published pools the dynamic tables (19 MB armband8, 153 MB grid64) live in main
memory. Measured (bench engine, dynamic, two alternating runs vs 3 lines): 12 lines left armband8
unchanged and gave grid64 +16-26 %; 64 lines slowed grid64 by ~22 %."""

W_COUNT = MAX_AXES + 1
"""Column of the blend scratch ``w_node`` that holds the number of terms."""


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
    w_node: np.ndarray,
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
        See :class:`~realtime.stages.engine.tables.MuapTables`.
    grid_int : ndarray of int64, shape (3, n_muscles, 3)
        Joint, size and stride of each grid axis (``PostureGrid``).
    grid_float : ndarray of float64, shape (2, n_muscles, 3)
        First node and inverse spacing of each grid axis (:meth:`PostureGrid.kernel_arrays`).
    neutral : ndarray, shape (3,)
        Posture used for NaN angles.
    w_node : ndarray of int64, shape (>= n * n_muscles, 5)
        Scratch, row ``s * n_muscles + m`` for muscle ``m`` at block sample
        ``s``: the four node indices of the blend (unused terms repeat a
        node with weight 0) and, in column :data:`W_COUNT`, the number of terms.
    w_value : ndarray of float32, shape (>= n * n_muscles, 4)
        Scratch: the four weights.
    """
    if n_spk == 0:
        return
    n_m = grid_int.shape[1]
    zero = np.float32(0.0)
    # 1. Blend weights of every muscle at every sample up to the last discharge.
    for t in range(spk_sample[n_spk - 1] + 1):
        same = t > 0 and angles[t, 0] == angles[t - 1, 0] and angles[t, 1] == angles[t - 1, 1]
        same = same and angles[t, 2] == angles[t - 1, 2]
        for m in range(n_m):
            row = t * n_m + m
            if grid_int[0, m, 0] < 0:  # posture-independent muscle: its one table, weight 1
                w_node[row, 0] = 0
                w_value[row, 0] = np.float32(1.0)
                for k in range(1, MAX_AXES + 1):
                    w_node[row, k] = 0
                    w_value[row, k] = zero
                w_node[row, W_COUNT] = 1
            elif same:  # the same posture as the previous sample: the same weights
                for k in range(MAX_AXES + 2):
                    w_node[row, k] = w_node[row - n_m, k]
                for k in range(MAX_AXES + 1):
                    w_value[row, k] = w_value[row - n_m, k]
            else:
                w_node[row, W_COUNT] = simplex_weights(
                    angles, t, grid_int, grid_float, m, neutral, w_node, w_value, row
                )
    # 2. The discharges.
    for i in range(n_spk):
        j = i + PREFETCH_AHEAD
        if j < n_spk:  # start loading the first lines of a later discharge's tables
            uj = spk_unit[j]
            rj = spk_sample[j] * n_m + unit_info[uj, 2]
            segj = unit_info[uj, 3]
            n_lines = min((segj + 31) // 32, PREFETCH_LINES)
            for k in range(w_node[rj, W_COUNT]):
                first = unit_info[uj, 1] + w_node[rj, k] * segj
                for line in range(n_lines):
                    prefetch(data, first + 32 * line)
        t = spk_sample[i]
        u = spk_unit[i]
        off = unit_info[u, 1]
        seg = unit_info[u, 3]
        sc = scale[u]
        row = t * n_m + unit_info[u, 2]
        n_terms = w_node[row, W_COUNT]
        # Coefficients and table starts of the four terms (unused ones: weight 0, never read).
        c0 = w_value[row, 0] * sc
        c1 = w_value[row, 1] * sc
        c2 = w_value[row, 2] * sc
        c3 = w_value[row, 3] * sc
        o0 = np.uint64(off + w_node[row, 0] * seg)
        o1 = np.uint64(off + w_node[row, 1] * seg)
        o2 = np.uint64(off + w_node[row, 2] * seg)
        o3 = np.uint64(off + w_node[row, 3] * seg)
        # Unsigned indices: numba then skips negative-index wrapping and LLVM vectorises.
        start = np.uint64(t * n_c)
        lc = np.uint64(seg)
        if n_terms == 1:
            for k in range(lc):
                acc[start + k] += c0 * np.float32(data[o0 + k])
        elif n_terms == 2:
            for k in range(lc):
                acc[start + k] = c1 * np.float32(data[o1 + k]) + (
                    c0 * np.float32(data[o0 + k]) + acc[start + k]
                )
        elif n_terms == 3:
            for k in range(lc):
                acc[start + k] = c2 * np.float32(data[o2 + k]) + (
                    c1 * np.float32(data[o1 + k]) + (c0 * np.float32(data[o0 + k]) + acc[start + k])
                )
        else:
            for k in range(lc):
                acc[start + k] = c3 * np.float32(data[o3 + k]) + (
                    c2 * np.float32(data[o2 + k])
                    + (
                        c1 * np.float32(data[o1 + k])
                        + (c0 * np.float32(data[o0 + k]) + acc[start + k])
                    )
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
