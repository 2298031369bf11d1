"""Numba settings shared by every kernel, chosen in one place.

- ``error_model="numpy"``: division by zero gives inf/nan instead of raising, which is what lets
  LLVM vectorise loops that divide.
- ``fastmath``: contraction into FMA and reassociation (so reductions vectorise), but *not*
  ``nnan``/``ninf``: the training loop must still see NaN and inf when they happen.
- ``cache=True``: a warm process starts in well under a second instead of recompiling (~10 s).
  The cache folder is keyed by a hash of the kernel sources, so an upgrade or an edit never
  picks up stale machine code (Numba itself only checks the timestamp of the decorated file,
  not of the helpers it inlined).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numba

from .. import numpy_blas

FASTMATH = frozenset({"contract", "arcp", "nsz", "reassoc"})
JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=set(FASTMATH))

# Numba's OpenMP layer made other libraries' threads (BLAS, PyTorch) 50x slower in the same
# process on these machines; the workqueue layer does not. Set before any parallel kernel runs.
numba.config.THREADING_LAYER = "workqueue"


def kernel(fn):
    """Decorate a jitted kernel with the project-wide options."""
    return numba.njit(**JIT_OPTIONS)(fn)


def inline_kernel(fn):
    """A small helper that is always inlined into the kernels that call it."""
    return numba.njit(inline="always", **JIT_OPTIONS)(fn)


# An implementation chosen by ``overload`` is compiled while its caller compiles, outside
# ``kernel_cache_dir``: cached on its own it would land beside the sources. It needs no cache of
# its own, being compiled into each calling kernel, which is cached whole.
OVERLOAD_OPTIONS = {name: value for name, value in JIT_OPTIONS.items() if name != "cache"}


def _sources_digest() -> str:
    """A short hash of every kernel source file, Numba's version and the BLAS the fused time
    loops were bound to (compiled code calls it by a name that must mean the same function)."""
    digest = hashlib.sha256(numba.__version__.encode())
    digest.update(numpy_blas.IDENTITY.encode())
    for path in [*sorted(Path(__file__).parent.glob("*.py")), Path(numpy_blas.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def cache_root() -> Path:
    """Where compiled kernels are kept: $CHARLM_CACHE_DIR, else the user's cache folder,
    else a per-user folder in the temporary directory (read-only home, read-only install)."""
    explicit = os.environ.get("CHARLM_CACHE_DIR")
    candidates = []
    if explicit:
        candidates.append(Path(explicit))
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        candidates.append(Path(xdg) / "charlm")
    try:
        candidates.append(Path.home() / ".cache" / "charlm")
    except RuntimeError:  # no home directory at all
        pass
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(Path(tempfile.gettempdir()) / f"charlm-cache-{uid}")
    for folder in candidates:
        if _writable(folder):
            return folder
    return candidates[-1]


KERNEL_CACHE_DIR = cache_root() / f"kernels-{_sources_digest()}"


@contextmanager
def kernel_cache_dir():
    """Point Numba's cache at our folder while the kernel modules are decorated.

    Numba binds a function's cache location when it is decorated, so setting the folder
    around the imports affects only charlm's kernels, not other libraries in the process.
    """
    saved = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(KERNEL_CACHE_DIR)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = saved
