"""Which BLAS numpy calls, found once: the addresses of its ``sgemm``/``dgemm`` for the fused
time loops (``kernels/blas.py``) and the name that keys the kernel cache (``kernels/_jit.py``).
Plain ctypes and threadpoolctl, no Numba, so both can import it without importing each other.

We bind to the OpenBLAS that numpy's wheels ship (``scipy-openblas``), the very library numpy
itself calls. Only symbols whose integer width is known from their name are used: a wrong width
would not raise, it would crash or compute garbage. Any other BLAS leaves ``AVAILABLE`` False.
``CHARLM_FUSED_BLAS=0`` turns the fused loop off by hand.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

# (single, double, integer width): the scipy-openblas wheels' names; "64_" marks ILP64.
SYMBOLS = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", 64),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", 32),
)
ROW_MAJOR, NO_TRANS = 101, 111
# Our own names for the functions, carrying the width: code cached against one width can never
# link against a library of the other.
ALIAS = {64: ("charlm_sgemm_i64", "charlm_dgemm_i64"), 32: ("charlm_sgemm_i32", "charlm_dgemm_i32")}


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
        for single, double, width in SYMBOLS:
            try:
                s, d = getattr(lib, single), getattr(lib, double)
            except AttributeError:
                continue
            address = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
            return address(s), address(d), width, f"{os.path.basename(path)}:{single}"
    return None


FOUND = _locate()
AVAILABLE = FOUND is not None
IDENTITY = FOUND[3] if FOUND else "none"  # part of the kernel cache key (see _jit.py)
WIDTH = FOUND[2] if FOUND else 64
