"""Many numpy arrays passed to a numba kernel as one table of addresses and shapes.

numba unboxes every array argument of a call (type, buffer and a fresh memory
record each: about 30 ns per array). The engine kernel runs 500 times a
second (2 kHz in blocks of 4) with some twenty state arrays, so its arguments
alone would cost about 0.3 ms per second of signal. Instead it takes one
int64 table with a row per array (address, then up to three dimensions) and
rebuilds each array with :func:`numba.carray` (a few instructions, no copy,
no memory record): :func:`slot_1d`, :func:`slot_2d`, :func:`slot_3d`.

Contract: a :class:`PointerTable` keeps a reference to every array it lists,
so the memory stays valid as long as the table object lives; the arrays must
not be replaced (only written in place) while a kernel uses the table; the
kernel knows each slot's dtype and number of dimensions (constants next to
the kernel), and :class:`PointerTable` checks them against the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import carray, njit

from realtime.stages.engine.intrinsics import address_as_pointer


class PointerTable:
    """The address table of ``arrays`` (slot ``k`` = ``arrays[k]``), holding them alive.

    Parameters
    ----------
    arrays : sequence of (ndarray, dtype, ndim)
        Each C-contiguous array with the dtype and number of dimensions (1-3)
        the kernel reads it as.

    Attributes
    ----------
    table : ndarray of int64, shape (n_slots, 4)
        Per slot: address of the first element, then the dimensions (1 for unused ones).
    arrays : tuple of ndarray
        The arrays (kept so their memory stays valid).
    """

    def __init__(self, arrays: Sequence[tuple[np.ndarray, type | np.dtype, int]]) -> None:
        table = np.ones((len(arrays), 4), np.int64)
        for k, (a, dtype, ndim) in enumerate(arrays):
            if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim:
                raise TypeError(
                    f"Pointer table slot {k}: the kernel reads a {ndim}-D {np.dtype(dtype)} array, "
                    f"got {getattr(a, 'dtype', type(a).__name__)} with shape {getattr(a, 'shape', None)}."
                )
            if not a.flags.c_contiguous:
                raise ValueError(f"Pointer table slot {k}: the array must be C-contiguous.")
            table[k, 0] = a.ctypes.data
            table[k, 1 : 1 + ndim] = a.shape
        self.table = table
        self.arrays = tuple(a for a, _, _ in arrays)


@njit(cache=True, inline="always")
def slot_1d(table: np.ndarray, slot: int, dtype) -> np.ndarray:  # pragma: no cover - numba
    """The 1-D array of ``dtype`` in ``slot`` (a view of the caller's memory)."""
    return carray(address_as_pointer(table[slot, 0], dtype), (table[slot, 1],))


@njit(cache=True, inline="always")
def slot_2d(table: np.ndarray, slot: int, dtype) -> np.ndarray:  # pragma: no cover - numba
    """The 2-D array of ``dtype`` in ``slot`` (a view of the caller's memory)."""
    return carray(address_as_pointer(table[slot, 0], dtype), (table[slot, 1], table[slot, 2]))


@njit(cache=True, inline="always")
def slot_3d(table: np.ndarray, slot: int, dtype) -> np.ndarray:  # pragma: no cover - numba
    """The 3-D array of ``dtype`` in ``slot`` (a view of the caller's memory)."""
    shape = (table[slot, 1], table[slot, 2], table[slot, 3])
    return carray(address_as_pointer(table[slot, 0], dtype), shape)
