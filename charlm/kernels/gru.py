"""GRU step kernels, PyTorch's ``nn.GRU`` layout: gate rows ``r, z, n``, G = 3, and the reset
gate applied to the recurrent product *plus its bias*::

    r = sigmoid(a_r + W_hr h + b_hr)
    z = sigmoid(a_z + W_hz h + b_hz)
    n = tanh(a_n + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

``a`` is the input projection ``x W_ih^T`` and ``r`` the recurrent product ``h W_hh^T``
(no bias), both (N, 3H). The forward overwrites ``a`` with the activated gates [r z n] and keeps
``hn = W_hn h + b_hn`` (N, H) for the backward. Because r multiplies only the recurrent part of
n, the gradients of the input and recurrent pre-activations differ in the n block, so the backward
writes both: ``da`` (for W_ih, b_ih and the input) and ``dr`` (for W_hh, b_hh and h).
"""

from __future__ import annotations

from ._jit import kernel
from .activations import sigmoid, tanh
from .lstm import _accumulate_rows


@kernel
def gru_forward_step(a, r, b_ih, b_hh, h_prev, hn_out, h_out):
    """a, r: (N, 3H); b_ih, b_hh: (3H,); h_prev, hn_out, h_out: (N, H). a becomes [r z n]."""
    n_rows, H = h_prev.shape
    for n in range(n_rows):
        for j in range(H):
            rg = sigmoid(a[n, j] + b_ih[j] + r[n, j] + b_hh[j])
            z = sigmoid(a[n, H + j] + b_ih[H + j] + r[n, H + j] + b_hh[H + j])
            hn = r[n, 2 * H + j] + b_hh[2 * H + j]
            ng = tanh(a[n, 2 * H + j] + b_ih[2 * H + j] + rg * hn)
            a[n, j] = rg
            a[n, H + j] = z
            a[n, 2 * H + j] = ng
            hn_out[n, j] = hn
            h_out[n, j] = (1 - z) * ng + z * h_prev[n, j]


@kernel
def gru_backward_step(gates, hn, h_prev, dy, dh_rec, dh_direct, da, dr, db_ih, db_hh):
    """gates: (N, 3H) [r z n]; hn, h_prev: (N, H); dy, dh_rec: (N, H) parts of dL/dh_t;
    dh_direct: (N, H) in: the part of dL/dh_t that came straight through z at step t+1,
    out: the same for h_{t-1}; da, dr: (N, 3H) out; db_ih, db_hh: (3H,) accumulated."""
    n_rows, H = h_prev.shape
    for n in range(n_rows):
        for j in range(H):
            rg = gates[n, j]
            z = gates[n, H + j]
            ng = gates[n, 2 * H + j]
            dh = dy[n, j] + dh_rec[n, j] + dh_direct[n, j]
            dn = dh * (1 - z) * (1 - ng * ng)
            dz = dh * (h_prev[n, j] - ng) * z * (1 - z)
            drg = dn * hn[n, j] * rg * (1 - rg)
            da[n, j] = drg
            da[n, H + j] = dz
            da[n, 2 * H + j] = dn
            dr[n, j] = drg
            dr[n, H + j] = dz
            dr[n, 2 * H + j] = dn * rg
            dh_direct[n, j] = dh * z
    _accumulate_rows(da, db_ih)
    _accumulate_rows(dr, db_hh)
