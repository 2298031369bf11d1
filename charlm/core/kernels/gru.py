"""GRU step kernels, PyTorch's ``nn.GRU`` layout: gate rows ``r, z, n``, G = 3, and the reset
gate applied to the recurrent product *plus its bias*::

    r = sigmoid(a_r + W_hr h + b_ir + b_hr)
    z = sigmoid(a_z + W_hz h + b_iz + b_hz)
    n = tanh(a_n + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

``a`` is the input projection ``x W_ih^T`` and ``r`` the recurrent product ``h W_hh^T``
(no bias), both (N, 3H). The forward overwrites ``a`` with the activated gates [r z n] and keeps
``hn = W_hn h + b_hn`` (N, H) for the backward. Because r multiplies only the recurrent part of
n, the gradients of the input and recurrent pre-activations differ in the n block, so the backward
writes both: ``da`` (for W_ih, b_ih and the input) and ``dr`` (for W_hh, b_hh and h).
Both kernels take the argument list that is the same for all cells (``cell_steps.py``).
Loops are shaped for vectorisation, see the note in lstm.py.
"""

from __future__ import annotations

from ._jit import kernel
from .activations import tanh
from .tensor import accumulate_rows, sigmoid_inplace


@kernel
def gru_forward_step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """a, r: (N, 3H); b: (3H,) = b_ih + b_hh, of which the r and z blocks are used; b_ih, b_hh:
    (3H,), of which the n block is used; h_prev, hn, h_out: (N, H). a becomes [r z n]."""
    n_rows, H = h_prev.shape
    b_rz, b_in, b_hn = b[: 2 * H], b_ih[2 * H :], b_hh[2 * H :]
    one = h_prev.dtype.type(1)
    for n in range(n_rows):
        x, rn, hnn, hp, ho = a[n], r[n], hn[n], h_prev[n], h_out[n]
        sigmoid_inplace(x[: 2 * H], rn[: 2 * H], b_rz)
        rg, z, ng, rhn = x[:H], x[H : 2 * H], x[2 * H :], rn[2 * H :]
        for j in range(H):
            hnn[j] = rhn[j] + b_hn[j]
        for j in range(H):
            ng[j] = tanh(ng[j] + b_in[j] + rg[j] * hnn[j])
        for j in range(H):
            ho[j] = (one - z[j]) * ng[j] + z[j] * hp[j]


@kernel
def gru_backward_step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """gates: (N, 3H) [r z n]; hn, h_prev: (N, H); dy, dh_rec: (N, H) parts of dL/dh_t;
    dcarry: (N, H) in: the part of dL/dh_t that came straight through z at step t+1,
    out: the same for h_{t-1}; da, dr: (N, 3H) out; db_ih, db_hh: (3H,) accumulated."""
    n_rows, H = h_prev.shape
    one = h_prev.dtype.type(1)
    for n in range(n_rows):
        g_, d_, e_ = gates[n], da[n], dr[n]
        rg, z, ng = g_[:H], g_[H : 2 * H], g_[2 * H :]
        hnn, hp, dyn, dhn, dd = hn[n], h_prev[n], dy[n], dh_rec[n], dcarry[n]
        for j in range(H):
            dd[j] = dyn[j] + dhn[j] + dd[j]  # now the whole dL/dh_t
        for j in range(H):
            dh = dd[j]
            d_[2 * H + j] = dh * (one - z[j]) * (one - ng[j] * ng[j])
            d_[H + j] = dh * (hp[j] - ng[j]) * z[j] * (one - z[j])
        for j in range(H):
            drg = d_[2 * H + j] * hnn[j] * rg[j] * (one - rg[j])
            d_[j] = drg
        for k in range(2 * H):
            e_[k] = d_[k]
        for j in range(H):
            e_[2 * H + j] = d_[2 * H + j] * rg[j]
        for j in range(H):
            dd[j] = dd[j] * z[j]
    accumulate_rows(da, db_ih)
    accumulate_rows(dr, db_hh)
