"""Plain (Elman) RNN step kernels, PyTorch's ``nn.RNN``: ``h' = act(a + h W_hh^T + b)`` with
``a = x W_ih^T`` and ``b = b_ih + b_hh``, act = tanh or relu. G = 1. Both derivatives are taken
from the output h' (1 - h'^2 for tanh, h' > 0 for relu), so the backward needs only the outputs.
The kernels take the argument list that is the same for all cells (``cell_steps.py``)."""

from __future__ import annotations

from ._jit import kernel
from .activations import tanh
from .tensor import accumulate_rows


@kernel
def rnn_tanh_forward_step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """a, r, h_out: (N, H); b: (H,). a is left as it was."""
    for n in range(h_out.shape[0]):
        an, rn, ho = a[n], r[n], h_out[n]
        for j in range(ho.size):
            ho[j] = tanh(an[j] + rn[j] + b[j])


@kernel
def rnn_tanh_backward_step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """h: (N, H) outputs of the step; dy, dh_rec: (N, H); da: (N, H) out; db_ih: (H,) accumulated."""
    one = h.dtype.type(1)
    for n in range(h.shape[0]):
        hr, dyn, dhn, dan = h[n], dy[n], dh_rec[n], da[n]
        for j in range(hr.size):
            dan[j] = (dyn[j] + dhn[j]) * (one - hr[j] * hr[j])
    accumulate_rows(da, db_ih)


@kernel
def rnn_relu_forward_step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    zero = h_out.dtype.type(0)
    for n in range(h_out.shape[0]):
        an, rn, ho = a[n], r[n], h_out[n]
        for j in range(ho.size):
            v = an[j] + rn[j] + b[j]
            ho[j] = v if v > zero else zero * v  # zero * v keeps a NaN a NaN


@kernel
def rnn_relu_backward_step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    zero = h.dtype.type(0)
    for n in range(h.shape[0]):
        hr, dyn, dhn, dan = h[n], dy[n], dh_rec[n], da[n]
        for j in range(hr.size):
            g = dyn[j] + dhn[j]
            dan[j] = g if hr[j] > zero else zero * g
    accumulate_rows(da, db_ih)
