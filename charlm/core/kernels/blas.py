"""numpy's own BLAS, callable from inside jitted kernels.

The recurrent layers do one small matrix product per time step. Called from Python, each step
pays for numpy's matmul dispatch, a few array views and the jitted gate kernel's argument
checks; on a 128-unit LSTM that was 15-20% of the step. Calling ``sgemm`` from a jitted loop
over the whole window removes all of it (see ``time_loops.py``).

We bind to the OpenBLAS that numpy's wheels ship, the very library numpy itself calls (one
thread pool, set by ``threadpoolctl`` as before), found by ``core/numpy_blas.py``. Any other
BLAS (MKL, Accelerate, a distribution's build) leaves ``AVAILABLE`` False and the layers keep
their Python time loop, which is just as correct. ``CHARLM_FUSED_BLAS=0`` turns the fused loop
off by hand.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import OVERLOAD_OPTIONS

from ..numpy_blas import ALIAS, AVAILABLE, FOUND, NO_TRANS, ROW_MAJOR, WIDTH

if AVAILABLE:
    import llvmlite.binding as llvm

    llvm.add_symbol(ALIAS[WIDTH][0], FOUND[0])
    llvm.add_symbol(ALIAS[WIDTH][1], FOUND[1])


def _gemm_type(name: str, real):
    i, ptr = (types.int64 if WIDTH == 64 else types.int32), types.intp
    # cblas_?gemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    return types.ExternalFunction(name, types.void(types.int32, types.int32, types.int32, i, i, i, real, ptr, i, ptr, i, real, ptr, i))


_sgemm = _gemm_type(ALIAS[WIDTH][0], types.float32)
_dgemm = _gemm_type(ALIAS[WIDTH][1], types.float64)


def matmul_into(x, w, out):
    """out = x @ w for 2-D arrays with unit stride along their rows (jitted code only)."""
    raise NotImplementedError("matmul_into is called from jitted kernels only")


@overload(matmul_into, jit_options=OVERLOAD_OPTIONS)
def _matmul_into(x, w, out):
    if not (x.dtype == w.dtype == out.dtype):
        return None
    if out.dtype == types.float32:
        gemm, one, zero = _sgemm, np.float32(1), np.float32(0)
    elif out.dtype == types.float64:
        gemm, one, zero = _dgemm, np.float64(1), np.float64(0)
    else:
        return None

    def impl(x, w, out):
        M, K = x.shape
        N = w.shape[1]
        size = out.itemsize
        if w.shape[0] != K or out.shape[0] != M or out.shape[1] != N:
            raise ValueError("matmul_into: shapes do not match")
        if x.strides[1] != size or w.strides[1] != size or out.strides[1] != size:
            raise ValueError("matmul_into: rows must be contiguous")
        gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, one, x.ctypes.data, x.strides[0] // size,
             w.ctypes.data, w.strides[0] // size, zero, out.ctypes.data, out.strides[0] // size)

    return impl
