"""Bootstrap resampling inside the kernels, from NumPy's own PCG64 streams.

NumPy's generators hold the GIL while they draw, which serialises the threads of the
bootstrap loop. Each replicate's stream is therefore seeded in Python (a ``SeedSequence``
child, as always) and its PCG64 state handed to the kernel, which steps the same
generator: the draws equal ``np.random.PCG64(seed).random_raw()`` bit for bit (tested).
A state is four uint64 words: state high, state low, increment high, increment low.
"""
import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ._cache import NUMBA_CACHE

_MULTIPLIER = 47026247687942121848144207491837523525  # PCG's default 128-bit multiplier, as NumPy's PCG64 uses


def _join128(builder, high, low):
    i128 = ir.IntType(128)
    return builder.or_(builder.shl(builder.zext(high, i128), ir.Constant(i128, 64)), builder.zext(low, i128))


def _split128(builder, v):
    i64 = ir.IntType(64)
    return builder.trunc(builder.lshr(v, ir.Constant(ir.IntType(128), 64)), i64), builder.trunc(v, i64)


@intrinsic
def _pcg_step(typingctx, s_hi, s_lo, inc_hi, inc_lo):
    """(high, low) words of the 128-bit LCG step state * multiplier + increment (mod 2^128),
    in native 128-bit arithmetic."""
    u64 = types.uint64

    def codegen(context, builder, signature, args):
        state = _join128(builder, args[0], args[1])
        inc = _join128(builder, args[2], args[3])
        new = builder.add(builder.mul(state, ir.Constant(ir.IntType(128), _MULTIPLIER)), inc)
        return context.make_tuple(builder, signature.return_type, list(_split128(builder, new)))
    return types.UniTuple(u64, 2)(u64, u64, u64, u64), codegen


@intrinsic
def _mul_high(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    def codegen(context, builder, signature, args):
        i128 = ir.IntType(128)
        prod = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        return _split128(builder, prod)[0]
    return types.uint64(types.uint64, types.uint64), codegen


@numba.njit(nogil=True, cache=NUMBA_CACHE, inline="always")
def _pcg64_next(state):
    """Advance the PCG64 (XSL-RR 128/64) ``state`` in place and return its next uint64."""
    hi, lo = _pcg_step(state[0], state[1], state[2], state[3])
    state[0] = hi
    state[1] = lo
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _pcg64_fill(state, out):
    """out[:] = the next len(out) raw draws of ``state``."""
    for i in range(out.shape[0]):
        out[i] = _pcg64_next(state)


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _resample_counts(state, count):
    """Add to ``count`` (length n) how often each of n rows is drawn in n draws with
    replacement: row floor(r n / 2^64) for each raw draw r, whose deviation from uniform
    is below n / 2^64 (5e-13 at n = 1e7)."""
    n = np.uint64(count.shape[0])
    for _ in range(count.shape[0]):
        count[_mul_high(_pcg64_next(state), n)] += 1.0
