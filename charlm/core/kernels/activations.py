"""Elementwise functions for use inside kernels: tanh, sigmoid and exp.

In float32 they are polynomial/rational approximations made of multiplies, adds, one division
and min/max, so LLVM vectorises the loops that call them (``math.tanh``/``math.exp`` stay scalar
calls on these machines, 12 ns an element against 0.25 ns). They are accurate to a few float32
ulps (see tests/core/kernels/test_activations.py). In float64, the path used for gradient checks, they are the
exact libm functions.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload


def tanh(x):
    """tanh(x), vectorisable in float32."""
    raise NotImplementedError("only callable from jitted code")


def sigmoid(x):
    """1 / (1 + exp(-x)), vectorisable in float32."""
    raise NotImplementedError("only callable from jitted code")


def exp(x):
    """exp(x), vectorisable in float32."""
    raise NotImplementedError("only callable from jitted code")


def _is_float32(x) -> bool:
    return isinstance(x, types.Float) and x.bitwidth == 32


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    """Reinterpret the bits of an int32 as a float32 (free: one bitcast, vectorisable)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@overload(tanh, inline="always")
def _tanh_impl(x):
    if _is_float32(x):
        f = np.float32

        def impl(x):
            # Eigen's rational approximation (ptanh_float): odd degree-13 over even degree-6
            # polynomial on [-c, c]; outside, tanh is +-1 to float32 precision.
            c = f(7.90531110763549805)
            x = min(max(x, -c), c)
            x2 = x * x
            p = f(-2.76076847742355e-16)
            p = p * x2 + f(2.00018790482477e-13)
            p = p * x2 + f(-8.60467152213735e-11)
            p = p * x2 + f(5.12229709037114e-08)
            p = p * x2 + f(1.48572235717979e-05)
            p = p * x2 + f(6.37261928875436e-04)
            p = p * x2 + f(4.89352455891786e-03)
            q = f(1.19825839466702e-06)
            q = q * x2 + f(1.18534705686654e-04)
            q = q * x2 + f(2.26843463243900e-03)
            q = q * x2 + f(4.89352518554385e-03)
            # Clamped so that sigmoid = (1 + tanh(x/2)) / 2 can never leave [0, 1].
            return min(max(x * p / q, f(-1.0)), f(1.0))

        return impl

    def impl(x):
        return math.tanh(x)

    return impl


@overload(sigmoid, inline="always")
def _sigmoid_impl(x):
    if _is_float32(x):
        half = np.float32(0.5)

        def impl(x):
            # sigmoid(x) = (1 + tanh(x/2)) / 2: three times cheaper than through exp and a
            # division. Its absolute error is below 2e-7 everywhere, which is what gates need;
            # for x < -16 the relative error grows (the result is below 1e-7 anyway).
            return half + half * tanh(half * x)

        return impl

    def impl(x):
        # Two branches so that neither exp can overflow.
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    return impl


@overload(exp, inline="always")
def _exp_impl(x):
    if _is_float32(x):
        f = np.float32

        def impl(x):
            # Cephes expf: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-7 polynomial,
            # 2**n assembled directly in the exponent bits.
            x = min(max(x, f(-87.3)), f(88.7))
            n = math.floor(x * f(1.44269504088896341) + f(0.5))
            r = x - n * f(0.693359375) - n * f(-2.12194440e-4)
            p = f(1.9875691500e-4)
            p = p * r + f(1.3981999507e-3)
            p = p * r + f(8.3334519073e-3)
            p = p * r + f(4.1665795894e-2)
            p = p * r + f(1.6666665459e-1)
            p = p * r + f(5.0000001201e-1)
            p = p * r * r + r + f(1.0)
            return p * _int32_bits_as_float32(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))

        return impl

    def impl(x):
        return math.exp(x)

    return impl
