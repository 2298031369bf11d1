"""Whole-window time loops: the recurrent product and the cell's step of every step, in one call.

``RecurrentLayer`` calls these when ``blas.AVAILABLE``; otherwise it runs the loop in Python
(``recurrent.py``) with numpy's matmul: the same arithmetic, step for step. The step is
``cell_steps.py``'s, for the ``cell`` passed (a ``Cell``: each cell compiles its own window), and
the arguments are its arguments with a leading time axis: ``a`` (T, N, G*H), ``h`` and ``c``
(T+1, N, H) with ``h[0]`` the initial state, ``hn`` (T, N, H), ``r`` (N, G*H) scratch for one
step's recurrent product. An argument the cell does not use may be any array of the right dtype
and dimension whose first axis is as long (``c`` and ``hn`` with no units, ``dr`` the same as ``da``).

Forward: r = h[t] @ W_hh^T (``w_hh_t`` is the C-contiguous transpose), then the step.
Backward, from t = T-1 down: the step, then dh_rec = dr[t] @ W_hh.

Measured (benchmarks/throughput.py, 2 threads): 128x1 LSTM training +5%, 256x2 +2%,
evaluation +4% over the Python loop. Splitting the batch rows over threads (a ``prange`` over
row blocks, each calling a single-threaded product) was tried and measured slower: OpenBLAS
already splits these products over 2 threads nearly as well, and a Numba parallel region
running beside OpenBLAS's own threads halved the throughput.
"""

from __future__ import annotations

from ._jit import kernel
from .blas import matmul_into
from .cell_steps import backward_step, forward_step


@kernel
def forward_window(cell, a, w_hh_t, b, p, b_ih, b_hh, h, c, hn, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        forward_step(cell, a[t], r, b, p, b_ih, b_hh, h[t], c[t], hn[t], h[t + 1], c[t + 1])


@kernel
def backward_window(cell, gates, w_hh, p, h, c, hn, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    for t in range(gates.shape[0] - 1, -1, -1):
        backward_step(cell, gates[t], p, h[t], c[t], hn[t], h[t + 1], c[t + 1], dy[t], dh_rec, dcarry, da[t], dr[t],
                      db_ih, db_hh, dp)
        matmul_into(dr[t], w_hh, dh_rec)
