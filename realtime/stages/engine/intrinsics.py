"""Low-level helpers for the numba kernels that numba does not offer itself (LLVM intrinsics).

- :func:`prefetch`: a hint to the CPU to start loading the cache line that
  holds ``array[index]`` (``llvm.prefetch``). It never faults, even for an
  index past the end of the array, and never changes a result: it lets the
  overlap-add start fetching the MUAP tables of the next discharges while it
  adds the current one.
- :func:`le_zero_mask16`: which of 16 consecutive float32 values are
  ``<= 0``, as the bits of an integer (one vector compare), and
  :func:`lowest_bit`: the index of the lowest set bit (``llvm.cttz``). With
  them the pool finds its due units 16 at a time instead of one by one.
- :func:`address_as_pointer`: an integer address as a typed pointer, so
  :func:`numba.carray` can rebuild an array from an address table
  (:mod:`realtime.stages.engine.pointer_table`).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
MASK_LANES = 16
"""Values compared by one :func:`le_zero_mask16`."""
_LOCALITY_L1 = 3  # keep in all cache levels (prefetcht0)


@intrinsic
def prefetch(typingctx, array, index):  # pragma: no cover - compiled by numba
    """Hint the CPU to fetch the cache line holding ``array[index]`` (read, data, all cache levels).

    Parameters
    ----------
    array : 1-D array
        Any contiguous 1-D array.
    index : integer
        Element index; out-of-range values are harmless (no load, no fault).
    """
    if not (
        isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)
    ):
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = builder.gep(arr.data, [idx])
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # rw = 0 (read), locality = 3, cache type = 1 (data)
        builder.call(fn, [builder.bitcast(ptr, i8p), _I32(0), _I32(_LOCALITY_L1), _I32(1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def le_zero_mask16(typingctx, array, index):  # pragma: no cover - compiled by numba
    """Bit ``k`` (``0 <= k < 16``) set iff ``array[index + k] <= 0`` (NaN: not set), as a uint64.

    One unaligned 16-lane load and compare. The caller guarantees
    ``0 <= index`` and ``index + 16 <= array.size`` (no bounds check).

    Parameters
    ----------
    array : 1-D C-contiguous float32 array
    index : integer
    """
    if not (
        isinstance(array, types.Array)
        and array.ndim == 1
        and array.layout == "C"
        and array.dtype == types.float32
        and isinstance(index, types.Integer)
    ):
        return None
    sig = types.uint64(array, index)

    def codegen(context, builder, signature, args):
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        vty = ir.VectorType(ir.FloatType(), MASK_LANES)
        ptr = builder.bitcast(builder.gep(arr.data, [idx]), vty.as_pointer())
        values = builder.load(ptr, align=4)
        due = builder.fcmp_ordered("<=", values, ir.Constant(vty, [0.0] * MASK_LANES))
        return builder.zext(builder.bitcast(due, ir.IntType(MASK_LANES)), _I64)

    return sig, codegen


@intrinsic
def lowest_bit(typingctx, bits):  # pragma: no cover - compiled by numba
    """Index of the lowest set bit of a uint64 (``bits`` must not be 0)."""
    if not isinstance(bits, types.Integer):
        return None
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(_I64, [_I64, ir.IntType(1)])
        fn = builder.module.declare_intrinsic("llvm.cttz", [_I64], fnty)
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return sig, codegen


@intrinsic
def address_as_pointer(typingctx, address, dtype):  # pragma: no cover - compiled by numba
    """A typed pointer to ``address`` (an integer), for :func:`numba.carray`.

    Parameters
    ----------
    address : integer
        The address of the first element (``ndarray.ctypes.data``); the caller
        keeps the memory alive and guarantees its element type.
    dtype : numba number class, e.g. ``np.float32``
    """
    if not isinstance(address, types.Integer) or not isinstance(dtype, types.NumberClass):
        return None
    element = dtype.instance_type
    sig = types.CPointer(element)(address, dtype)

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[0], signature.args[0], types.intp)
        return builder.inttoptr(value, context.get_value_type(element).as_pointer())

    return sig, codegen
