"""numpy's own BLAS, callable from inside jitted kernels.

The recurrent layers do one small matrix product per time step. Called from Python, each step
pays for numpy's matmul dispatch, a few array views and the jitted gate kernel's argument
checks; on a 128-unit LSTM that was 15-20% of the step. Calling ``sgemm`` from a jitted loop
over the whole window removes all of it (see ``time_loops.py``).

We bind to the OpenBLAS that numpy's wheels ship (``scipy-openblas``), the very library numpy
itself calls: one thread pool, set by ``threadpoolctl`` as before. Only symbols whose integer
width is known from their name are used: a wrong width would not raise, it would crash or
compute garbage. Any other BLAS (MKL, Accelerate, a distribution's build) leaves
``AVAILABLE`` False and the layers keep their Python time loop, which is just as correct.
``CHARLM_FUSED_BLAS=0`` turns the fused loop off by hand.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import OVERLOAD_OPTIONS

# (single, double, integer width): the scipy-openblas wheels' names; "64_" marks ILP64.
_SYMBOLS = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", 64),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", 32),
)
_ROW_MAJOR, _NO_TRANS = 101, 111
# Our own names for the functions, carrying the width: code cached against one width can never
# link against a library of the other.
_ALIAS = {64: ("charlm_sgemm_i64", "charlm_dgemm_i64"), 32: ("charlm_sgemm_i32", "charlm_dgemm_i32")}


def _numpy_openblas_paths() -> list[str]:
    """Files of the scipy-openblas library numpy has loaded (numpy.libs/ or numpy/.dylibs/;
    SciPy ships its own copy, with its own thread pool, which we must not pick)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a dependency, but stay usable without it
        return []
    numpy_root = os.path.dirname(os.path.realpath(np.__file__))
    return [
        info["filepath"]
        for info in threadpool_info()
        if info.get("internal_api") == "openblas"
        and "scipy_openblas" in os.path.basename(info["filepath"])
        and os.path.realpath(info["filepath"]).startswith(numpy_root)
    ]


def _locate():
    """(sgemm address, dgemm address, width, description) or None."""
    if os.environ.get("CHARLM_FUSED_BLAS", "1") == "0":
        return None
    for path in _numpy_openblas_paths():
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: the same handle, not a second copy
        except OSError:
            continue
        for single, double, width in _SYMBOLS:
            try:
                s, d = getattr(lib, single), getattr(lib, double)
            except AttributeError:
                continue
            address = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
            return address(s), address(d), width, f"{os.path.basename(path)}:{single}"
    return None


_found = _locate()
AVAILABLE = _found is not None
IDENTITY = _found[3] if _found else "none"  # part of the kernel cache key (see _jit.py)
_WIDTH = _found[2] if _found else 64

if AVAILABLE:
    import llvmlite.binding as llvm

    llvm.add_symbol(_ALIAS[_WIDTH][0], _found[0])
    llvm.add_symbol(_ALIAS[_WIDTH][1], _found[1])


def _gemm_type(name: str, real):
    i, ptr = (types.int64 if _WIDTH == 64 else types.int32), types.intp
    # cblas_?gemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    return types.ExternalFunction(name, types.void(types.int32, types.int32, types.int32, i, i, i, real, ptr, i, ptr, i, real, ptr, i))


_sgemm = _gemm_type(_ALIAS[_WIDTH][0], types.float32)
_dgemm = _gemm_type(_ALIAS[_WIDTH][1], types.float64)


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
        gemm(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, M, N, K, one, x.ctypes.data, x.strides[0] // size,
             w.ctypes.data, w.strides[0] // size, zero, out.ctypes.data, out.strides[0] // size)

    return impl
