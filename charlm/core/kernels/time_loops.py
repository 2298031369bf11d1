"""Whole-window time loops: the recurrent product and the gate kernel of every step, in one call.

``RecurrentLayer`` calls these when ``blas.AVAILABLE``; otherwise it runs the loop in Python
(``recurrent.py``) with numpy's matmul: the same arithmetic, step for step. Shapes and argument
meanings are those of the step kernels in ``lstm.py``, ``gru.py`` and ``rnn.py`` with a leading
time axis: ``a`` (T, N, G*H), ``h`` and ``c`` (T+1, N, H) with ``h[0]`` the initial state, ``r``
(N, G*H) scratch for one step's recurrent product.

Forward: r = h[t] @ W_hh^T (``w_hh_t`` is the C-contiguous transpose), then the step kernel.
Backward, from t = T-1 down: the step kernel, then dh_rec = drec[t] @ W_hh.

Measured (benchmarks/throughput.py, 2 threads): 128x1 LSTM training +5%, 256x2 +2%,
evaluation +4% over the Python loop. Splitting the batch rows over threads (a ``prange`` over
row blocks, each calling a single-threaded product) was tried and measured slower: OpenBLAS
already splits these products over 2 threads nearly as well, and a Numba parallel region
running beside OpenBLAS's own threads halved the throughput.
"""

from __future__ import annotations

from ._jit import kernel
from .blas import matmul_into
from .gru import gru_backward_step, gru_forward_step
from .lstm import (
    coupled_backward_step,
    coupled_forward_step,
    lstm_backward_step,
    lstm_forward_step,
    peephole_backward_step,
    peephole_forward_step,
)
from .rnn import rnn_relu_backward_step, rnn_relu_forward_step, rnn_tanh_backward_step, rnn_tanh_forward_step


# ------------------------------------------------------------------------------------ forward
@kernel
def lstm_forward_window(a, w_hh_t, b, h, c, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        lstm_forward_step(a[t], r, b, c[t], h[t + 1], c[t + 1])


@kernel
def peephole_forward_window(a, w_hh_t, b, p, h, c, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        peephole_forward_step(a[t], r, b, p, c[t], h[t + 1], c[t + 1])


@kernel
def coupled_forward_window(a, w_hh_t, b, h, c, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        coupled_forward_step(a[t], r, b, c[t], h[t + 1], c[t + 1])


@kernel
def gru_forward_window(a, w_hh_t, b_rz, b_in, b_hn, h, hn, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        gru_forward_step(a[t], r, b_rz, b_in, b_hn, h[t], hn[t], h[t + 1])


@kernel
def rnn_tanh_forward_window(a, w_hh_t, b, h, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        rnn_tanh_forward_step(a[t], r, b, h[t + 1])


@kernel
def rnn_relu_forward_window(a, w_hh_t, b, h, r):
    for t in range(a.shape[0]):
        matmul_into(h[t], w_hh_t, r)
        rnn_relu_forward_step(a[t], r, b, h[t + 1])


# ----------------------------------------------------------------------------------- backward
@kernel
def lstm_backward_window(gates, w_hh, c, dy, dh_rec, dc, da, db):
    for t in range(gates.shape[0] - 1, -1, -1):
        lstm_backward_step(gates[t], c[t], c[t + 1], dy[t], dh_rec, dc, da[t], db)
        matmul_into(da[t], w_hh, dh_rec)


@kernel
def peephole_backward_window(gates, w_hh, p, c, dy, dh_rec, dc, da, db, dp):
    for t in range(gates.shape[0] - 1, -1, -1):
        peephole_backward_step(gates[t], p, c[t], c[t + 1], dy[t], dh_rec, dc, da[t], db, dp)
        matmul_into(da[t], w_hh, dh_rec)


@kernel
def coupled_backward_window(gates, w_hh, c, dy, dh_rec, dc, da, db):
    for t in range(gates.shape[0] - 1, -1, -1):
        coupled_backward_step(gates[t], c[t], c[t + 1], dy[t], dh_rec, dc, da[t], db)
        matmul_into(da[t], w_hh, dh_rec)


@kernel
def gru_backward_window(gates, w_hh, hn, h, dy, dh_rec, dh_direct, da, dr, db_ih, db_hh):
    for t in range(gates.shape[0] - 1, -1, -1):
        gru_backward_step(gates[t], hn[t], h[t], dy[t], dh_rec, dh_direct, da[t], dr[t], db_ih, db_hh)
        matmul_into(dr[t], w_hh, dh_rec)


@kernel
def rnn_tanh_backward_window(h, w_hh, dy, dh_rec, da, db):
    for t in range(dy.shape[0] - 1, -1, -1):
        rnn_tanh_backward_step(h[t + 1], dy[t], dh_rec, da[t], db)
        matmul_into(da[t], w_hh, dh_rec)


@kernel
def rnn_relu_backward_window(h, w_hh, dy, dh_rec, da, db):
    for t in range(dy.shape[0] - 1, -1, -1):
        rnn_relu_backward_step(h[t + 1], dy[t], dh_rec, da[t], db)
        matmul_into(da[t], w_hh, dh_rec)
