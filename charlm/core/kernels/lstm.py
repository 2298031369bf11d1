"""LSTM step kernels: the standard cell, the peephole cell and the coupled-gate cell.

Each kernel does one time step for N rows, fusing the gate nonlinearities and the state update.
The matrix products are not here: the caller passes ``a`` (the input projection ``x W_ih^T``,
computed for the whole window at once), ``r`` (the recurrent product ``h_prev W_hh^T``, one matrix
product per step) and ``b = b_ih + b_hh``.

Gate layouts (rows of W_ih, W_hh, b_ih, b_hh), shapes (N, G*H):

- standard (PyTorch's ``nn.LSTM``): ``i, f, g, o``, G = 4.
- peephole: ``i, f, g, o`` as the standard cell, plus per-unit diagonal weights ``p`` of shape
  (3, H), rows ``i, f, o``: i and f see c_{t-1}, o sees c_t (Gers & Schmidhuber 2000).
- coupled: ``f, g, o``, G = 3 (the standard layout without the i block): the input gate is 1 - f.

Every step kernel takes the argument list that is the same for all cells (``cell_steps.py``)
and reads the arguments its cell needs. Forward kernels overwrite ``a`` with the activated gates,
which is what the backward needs. Backward kernels take ``dh = dy_t + dh_rec`` as its two parts
(summed into ``dh_rec``, which is scratch), carry ``dcarry`` = dL/dc in place from step t to step
t-1, write the pre-activation gate gradients ``da`` and add them into ``db_ih``.

Why the loops look the way they do (each point measured, see benchmarks/): every loop runs over
a contiguous row view from index 0, touches few distinct arrays, and uses constants of the
array's own dtype. Otherwise LLVM does not vectorise it (a loop over ``range(3*H, 4*H)``, too
many pointers needing run-time alias checks) or silently computes in float64 (``1 - x`` with an
integer literal), and the kernel runs 5-30 times slower.
"""

from __future__ import annotations

from ._jit import kernel
from .activations import tanh
from .tensor import accumulate_rows, add_into as _add_into, sigmoid_inplace, tanh_inplace


@kernel
def lstm_forward_step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """a, r: (N, 4H); b: (4H,); c_prev, h_out, c_out: (N, H). a becomes [i f g o]."""
    n_rows, H = c_prev.shape
    for n in range(n_rows):
        x, rn = a[n], r[n]
        sigmoid_inplace(x[: 2 * H], rn[: 2 * H], b[: 2 * H])
        tanh_inplace(x[2 * H : 3 * H], rn[2 * H : 3 * H], b[2 * H : 3 * H])
        sigmoid_inplace(x[3 * H :], rn[3 * H :], b[3 * H :])
        cp, co, ho = c_prev[n], c_out[n], h_out[n]
        for j in range(H):
            c = x[H + j] * cp[j] + x[j] * x[2 * H + j]
            co[j] = c
            ho[j] = x[3 * H + j] * tanh(c)


@kernel
def lstm_backward_step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """gates: (N, 4H) activated [i f g o]; c_prev, c: (N, H) cell states at t-1 and t;
    dy, dh_rec: (N, H) the two parts of dL/dh_t (dh_rec is scratch: it ends up holding their sum);
    dcarry: (N, H) dL/dc_t in, dL/dc_{t-1} out; da: (N, 4H) out; db_ih: (4H,) accumulated."""
    n_rows, H = c.shape
    one = c.dtype.type(1)
    for n in range(n_rows):
        g_, d_, cp, ct, dh, dcn = gates[n], da[n], c_prev[n], c[n], dh_rec[n], dcarry[n]
        gi, gf, gg, go = g_[:H], g_[H : 2 * H], g_[2 * H : 3 * H], g_[3 * H :]
        di, df, dg, do = d_[:H], d_[H : 2 * H], d_[2 * H : 3 * H], d_[3 * H :]
        _add_into(dh, dy[n])
        for j in range(H):
            tc, o = tanh(ct[j]), go[j]
            dcn[j] += dh[j] * o * (one - tc * tc)  # now dL/dc_t
            do[j] = dh[j] * tc * o * (one - o)
        for j in range(H):
            i, g = gi[j], gg[j]
            di[j] = dcn[j] * g * i * (one - i)
            dg[j] = dcn[j] * i * (one - g * g)
        for j in range(H):
            f = gf[j]
            df[j] = dcn[j] * cp[j] * f * (one - f)
            dcn[j] *= f  # now dL/dc_{t-1}
    accumulate_rows(da, db_ih)


@kernel
def peephole_forward_step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """As lstm_forward_step, with p: (3, H) peephole weights for i, f (on c_{t-1}) and o (on c_t)."""
    n_rows, H = c_prev.shape
    p_i, p_f, p_o = p[0], p[1], p[2]
    for n in range(n_rows):
        x, rn, cp, co, ho = a[n], r[n], c_prev[n], c_out[n], h_out[n]
        xi, xf, xg, xo = x[:H], x[H : 2 * H], x[2 * H : 3 * H], x[3 * H :]
        for j in range(H):
            xi[j] += p_i[j] * cp[j]
        for j in range(H):
            xf[j] += p_f[j] * cp[j]
        sigmoid_inplace(x[: 2 * H], rn[: 2 * H], b[: 2 * H])
        tanh_inplace(xg, rn[2 * H : 3 * H], b[2 * H : 3 * H])
        for j in range(H):
            co[j] = xf[j] * cp[j] + xi[j] * xg[j]
        for j in range(H):
            xo[j] += p_o[j] * co[j]
        sigmoid_inplace(xo, rn[3 * H :], b[3 * H :])
        for j in range(H):
            ho[j] = xo[j] * tanh(co[j])


@kernel
def peephole_backward_step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """As lstm_backward_step; also accumulates dp: (3, H), the peephole weight gradient."""
    n_rows, H = c.shape
    one = c.dtype.type(1)
    p_i, p_f, p_o = p[0], p[1], p[2]
    dp_i, dp_f, dp_o = dp[0], dp[1], dp[2]
    for n in range(n_rows):
        g_, d_, cp, ct, dh, dcn = gates[n], da[n], c_prev[n], c[n], dh_rec[n], dcarry[n]
        gi, gf, gg, go = g_[:H], g_[H : 2 * H], g_[2 * H : 3 * H], g_[3 * H :]
        di, df, dg, do = d_[:H], d_[H : 2 * H], d_[2 * H : 3 * H], d_[3 * H :]
        _add_into(dh, dy[n])
        for j in range(H):
            tc, o = tanh(ct[j]), go[j]
            do[j] = dh[j] * tc * o * (one - o)
            # c_t reaches the loss through h (via tanh) and through the o gate's peephole.
            dcn[j] += dh[j] * o * (one - tc * tc) + do[j] * p_o[j]
        for j in range(H):
            i, g = gi[j], gg[j]
            di[j] = dcn[j] * g * i * (one - i)
            dg[j] = dcn[j] * i * (one - g * g)
        for j in range(H):
            f = gf[j]
            df[j] = dcn[j] * cp[j] * f * (one - f)
        for j in range(H):
            dcn[j] = dcn[j] * gf[j] + di[j] * p_i[j] + df[j] * p_f[j]
        for j in range(H):
            dp_i[j] += di[j] * cp[j]
        for j in range(H):
            dp_f[j] += df[j] * cp[j]
        for j in range(H):
            dp_o[j] += do[j] * ct[j]
    accumulate_rows(da, db_ih)


@kernel
def coupled_forward_step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """a, r: (N, 3H) gates [f g o]; b: (3H,); the input gate is 1 - f. a becomes [f g o]."""
    n_rows, H = c_prev.shape
    one = c_prev.dtype.type(1)
    for n in range(n_rows):
        x, rn = a[n], r[n]
        sigmoid_inplace(x[:H], rn[:H], b[:H])
        tanh_inplace(x[H : 2 * H], rn[H : 2 * H], b[H : 2 * H])
        sigmoid_inplace(x[2 * H :], rn[2 * H :], b[2 * H :])
        cp, co, ho = c_prev[n], c_out[n], h_out[n]
        for j in range(H):
            f = x[j]
            c = f * cp[j] + (one - f) * x[H + j]
            co[j] = c
            ho[j] = x[2 * H + j] * tanh(c)


@kernel
def coupled_backward_step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """As lstm_backward_step for the coupled cell; gates and da: (N, 3H) [f g o]."""
    n_rows, H = c.shape
    one = c.dtype.type(1)
    for n in range(n_rows):
        g_, d_, cp, ct, dh, dcn = gates[n], da[n], c_prev[n], c[n], dh_rec[n], dcarry[n]
        gf, gg, go = g_[:H], g_[H : 2 * H], g_[2 * H :]
        df, dg, do = d_[:H], d_[H : 2 * H], d_[2 * H :]
        _add_into(dh, dy[n])
        for j in range(H):
            tc, o = tanh(ct[j]), go[j]
            dcn[j] += dh[j] * o * (one - tc * tc)
            do[j] = dh[j] * tc * o * (one - o)
        for j in range(H):
            f, g = gf[j], gg[j]
            df[j] = dcn[j] * (cp[j] - g) * f * (one - f)
            dg[j] = dcn[j] * (one - f) * (one - g * g)
        for j in range(H):
            dcn[j] *= gf[j]
    accumulate_rows(da, db_ih)
