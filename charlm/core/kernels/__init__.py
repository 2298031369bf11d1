"""Numba-jitted kernels: pure functions over arrays, nothing else lives here.

Imported under :func:`_jit.kernel_cache_dir` so that compiled code is cached in charlm's own
versioned folder (see ``_jit.py``).
"""

from ._jit import KERNEL_CACHE_DIR, kernel_cache_dir

with kernel_cache_dir():
    from . import activations, beam, blas, cell_steps, drawing, gru, lstm, memory, optim, rnn, sampling, softmax, tensor, time_loops, trees  # noqa: F401
