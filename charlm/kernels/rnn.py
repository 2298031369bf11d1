"""Plain (Elman) RNN step kernels, PyTorch's ``nn.RNN``: ``h' = act(a + b_ih + h W_hh^T + b_hh)`` with
``a = x W_ih^T``, act = tanh or relu. G = 1. Both derivatives are taken from the output
h' (1 - h'^2 for tanh, h' > 0 for relu), so the backward needs nothing but the outputs."""

from __future__ import annotations

from ._jit import kernel
from .activations import tanh
from .lstm import _accumulate_rows


@kernel
def rnn_tanh_forward_step(a, r, b_ih, b_hh, h_out):
    """a, r, h_out: (N, H); b_ih, b_hh: (H,)."""
    n_rows, H = h_out.shape
    for n in range(n_rows):
        for j in range(H):
            h_out[n, j] = tanh(a[n, j] + b_ih[j] + r[n, j] + b_hh[j])


@kernel
def rnn_tanh_backward_step(h, dy, dh_rec, da, db):
    """h: (N, H) outputs of the step; dy, dh_rec: (N, H); da: (N, H) out; db: (H,) accumulated."""
    n_rows, H = h.shape
    for n in range(n_rows):
        for j in range(H):
            hv = h[n, j]
            da[n, j] = (dy[n, j] + dh_rec[n, j]) * (1 - hv * hv)
    _accumulate_rows(da, db)


@kernel
def rnn_relu_forward_step(a, r, b_ih, b_hh, h_out):
    n_rows, H = h_out.shape
    for n in range(n_rows):
        for j in range(H):
            v = a[n, j] + b_ih[j] + r[n, j] + b_hh[j]
            h_out[n, j] = v if v > 0 else 0 * v


@kernel
def rnn_relu_backward_step(h, dy, dh_rec, da, db):
    n_rows, H = h.shape
    for n in range(n_rows):
        for j in range(H):
            g = dy[n, j] + dh_rec[n, j]
            da[n, j] = g if h[n, j] > 0 else 0 * g
    _accumulate_rows(da, db)
