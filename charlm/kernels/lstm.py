"""LSTM step kernels: the standard cell, the peephole cell and the coupled-gate cell.

Each kernel does one time step for N rows, fusing the gate nonlinearities and the state update
into one pass. The matrix products are not here: the caller passes ``a`` (the input projection
``x W_ih^T``, computed for the whole window at once) and ``r`` (the recurrent product
``h_prev W_hh^T``, one matrix product per step); the kernels add both biases.

Gate layouts (rows of W_ih, W_hh, b_ih, b_hh), shapes (N, G*H):

- standard (PyTorch's ``nn.LSTM``): ``i, f, g, o``, G = 4.
- peephole: ``i, f, g, o`` as the standard cell, plus per-unit diagonal weights ``p`` of shape
  (3, H), rows ``i, f, o``: i and f see c_{t-1}, o sees c_t (Gers & Schmidhuber 2000).
- coupled: ``f, g, o``, G = 3 (the standard layout without the i block): the input gate is 1 - f.

Forward kernels overwrite ``a`` with the activated gates, which is what the backward needs.
Backward kernels take ``dh = dy_t + dh_rec`` as its two parts, carry ``dc`` in place from step t
to step t-1, write the pre-activation gate gradients ``da`` and add them into ``db``.
"""

from __future__ import annotations

from ._jit import kernel
from .activations import sigmoid, tanh


@kernel
def lstm_forward_step(a, r, b_ih, b_hh, c_prev, h_out, c_out):
    """a, r: (N, 4H); b_ih, b_hh: (4H,); c_prev, h_out, c_out: (N, H). a becomes [i f g o]."""
    n_rows, H = c_prev.shape
    for n in range(n_rows):
        for j in range(H):
            i = sigmoid(a[n, j] + b_ih[j] + r[n, j] + b_hh[j])
            f = sigmoid(a[n, H + j] + b_ih[H + j] + r[n, H + j] + b_hh[H + j])
            g = tanh(a[n, 2 * H + j] + b_ih[2 * H + j] + r[n, 2 * H + j] + b_hh[2 * H + j])
            o = sigmoid(a[n, 3 * H + j] + b_ih[3 * H + j] + r[n, 3 * H + j] + b_hh[3 * H + j])
            c = f * c_prev[n, j] + i * g
            a[n, j] = i
            a[n, H + j] = f
            a[n, 2 * H + j] = g
            a[n, 3 * H + j] = o
            c_out[n, j] = c
            h_out[n, j] = o * tanh(c)


@kernel
def lstm_backward_step(gates, c_prev, c, dy, dh_rec, dc, da, db):
    """gates: (N, 4H) activated [i f g o]; c_prev, c: (N, H) cell states at t-1 and t;
    dy, dh_rec: (N, H) the two parts of dL/dh_t; dc: (N, H) dL/dc_t in, dL/dc_{t-1} out;
    da: (N, 4H) out; db: (4H,) accumulated."""
    n_rows, H = c.shape
    for n in range(n_rows):
        for j in range(H):
            i = gates[n, j]
            f = gates[n, H + j]
            g = gates[n, 2 * H + j]
            o = gates[n, 3 * H + j]
            tc = tanh(c[n, j])
            dh = dy[n, j] + dh_rec[n, j]
            dct = dc[n, j] + dh * o * (1 - tc * tc)
            di = dct * g * i * (1 - i)
            df = dct * c_prev[n, j] * f * (1 - f)
            dg = dct * i * (1 - g * g)
            do = dh * tc * o * (1 - o)
            da[n, j] = di
            da[n, H + j] = df
            da[n, 2 * H + j] = dg
            da[n, 3 * H + j] = do
            dc[n, j] = dct * f
    _accumulate_rows(da, db)


@kernel
def peephole_forward_step(a, r, b_ih, b_hh, p, c_prev, h_out, c_out):
    """As lstm_forward_step, with p: (3, H) peephole weights for i, f (on c_{t-1}) and o (on c_t)."""
    n_rows, H = c_prev.shape
    for n in range(n_rows):
        for j in range(H):
            cp = c_prev[n, j]
            i = sigmoid(a[n, j] + b_ih[j] + r[n, j] + b_hh[j] + p[0, j] * cp)
            f = sigmoid(a[n, H + j] + b_ih[H + j] + r[n, H + j] + b_hh[H + j] + p[1, j] * cp)
            g = tanh(a[n, 2 * H + j] + b_ih[2 * H + j] + r[n, 2 * H + j] + b_hh[2 * H + j])
            c = f * cp + i * g
            o = sigmoid(a[n, 3 * H + j] + b_ih[3 * H + j] + r[n, 3 * H + j] + b_hh[3 * H + j] + p[2, j] * c)
            a[n, j] = i
            a[n, H + j] = f
            a[n, 2 * H + j] = g
            a[n, 3 * H + j] = o
            c_out[n, j] = c
            h_out[n, j] = o * tanh(c)


@kernel
def peephole_backward_step(gates, p, c_prev, c, dy, dh_rec, dc, da, db, dp):
    """As lstm_backward_step; also accumulates dp: (3, H), the peephole weight gradient."""
    n_rows, H = c.shape
    for n in range(n_rows):
        for j in range(H):
            i = gates[n, j]
            f = gates[n, H + j]
            g = gates[n, 2 * H + j]
            o = gates[n, 3 * H + j]
            cp = c_prev[n, j]
            ct = c[n, j]
            tc = tanh(ct)
            dh = dy[n, j] + dh_rec[n, j]
            do = dh * tc * o * (1 - o)
            # c_t reaches the loss through h (via tanh) and through the o gate's peephole.
            dct = dc[n, j] + dh * o * (1 - tc * tc) + do * p[2, j]
            di = dct * g * i * (1 - i)
            df = dct * cp * f * (1 - f)
            dg = dct * i * (1 - g * g)
            da[n, j] = di
            da[n, H + j] = df
            da[n, 2 * H + j] = dg
            da[n, 3 * H + j] = do
            dc[n, j] = dct * f + di * p[0, j] + df * p[1, j]
            dp[0, j] += di * cp
            dp[1, j] += df * cp
            dp[2, j] += do * ct
    _accumulate_rows(da, db)


@kernel
def coupled_forward_step(a, r, b_ih, b_hh, c_prev, h_out, c_out):
    """a, r: (N, 3H) gates [f g o]; the input gate is 1 - f. a becomes [f g o]."""
    n_rows, H = c_prev.shape
    for n in range(n_rows):
        for j in range(H):
            f = sigmoid(a[n, j] + b_ih[j] + r[n, j] + b_hh[j])
            g = tanh(a[n, H + j] + b_ih[H + j] + r[n, H + j] + b_hh[H + j])
            o = sigmoid(a[n, 2 * H + j] + b_ih[2 * H + j] + r[n, 2 * H + j] + b_hh[2 * H + j])
            c = f * c_prev[n, j] + (1 - f) * g
            a[n, j] = f
            a[n, H + j] = g
            a[n, 2 * H + j] = o
            c_out[n, j] = c
            h_out[n, j] = o * tanh(c)


@kernel
def coupled_backward_step(gates, c_prev, c, dy, dh_rec, dc, da, db):
    """As lstm_backward_step for the coupled cell; gates and da: (N, 3H) [f g o]."""
    n_rows, H = c.shape
    for n in range(n_rows):
        for j in range(H):
            f = gates[n, j]
            g = gates[n, H + j]
            o = gates[n, 2 * H + j]
            tc = tanh(c[n, j])
            dh = dy[n, j] + dh_rec[n, j]
            dct = dc[n, j] + dh * o * (1 - tc * tc)
            da[n, j] = dct * (c_prev[n, j] - g) * f * (1 - f)
            da[n, H + j] = dct * (1 - f) * (1 - g * g)
            da[n, 2 * H + j] = dh * tc * o * (1 - o)
            dc[n, j] = dct * f
    _accumulate_rows(da, db)


@kernel
def _accumulate_rows(m, total):
    """total += m.sum(axis=0), while m's rows are still in cache."""
    for n in range(m.shape[0]):
        for k in range(m.shape[1]):
            total[k] += m[n, k]
