"""The fused nonlinearities of the recursive networks over trees, one call per tree level.

Each works on the rows of one level (every node of one height, across all the trees of a batch)
after the level's single matrix product: the bias add, the gates and the cell update in one pass,
forward; their exact derivatives, backward. float32 and float64 alike (the float64 path is the
one gradient checks use).

Binary Tree-LSTM (Tai et al. 2015, N-ary with N = 2), pre-activations g = U [h_l; h_r] + b with
gates in the order i, f_l, f_r, o, u (5H wide); at a leaf g = W x + b with i, o, u (3H wide):

    c = i * u + f_l * c_l + f_r * c_r        (a leaf: c = i * u)
    h = o * tanh(c)
"""

from __future__ import annotations

from ._jit import inline_kernel, kernel
from .activations import sigmoid, tanh

# The loops follow lstm.py's rules (measured there): each runs over a contiguous row view from
# index 0, over few arrays, with constants of the array's dtype, so that LLVM vectorises it.


@inline_kernel
def _sigmoid_bias(x, b):
    for k in range(x.size):
        x[k] = sigmoid(x[k] + b[k])


@inline_kernel
def _tanh_bias(x, b):
    for k in range(x.size):
        x[k] = tanh(x[k] + b[k])


@inline_kernel
def _cell_backward(dh, dc, c, i, o, u, di, do, du):
    """The part of a Tree-LSTM node's backward that inner nodes and leaves share: o from h, the
    full gradient of c (accumulated into ``dc``), then i and u from it. Rows of one node."""
    one = c.dtype.type(1)
    for k in range(c.size):
        tc = tanh(c[k])
        do[k] = dh[k] * tc * o[k] * (one - o[k])
        dc[k] += dh[k] * o[k] * (one - tc * tc)
    for k in range(c.size):
        di[k] = dc[k] * u[k] * i[k] * (one - i[k])
        du[k] = dc[k] * i[k] * (one - u[k] * u[k])


@kernel
def tanh_bias_forward(z, bias):
    """z[m] = tanh(z[m] + bias), in place; z: (M, H)."""
    for m in range(z.shape[0]):
        _tanh_bias(z[m], bias)


@kernel
def tanh_backward(dp, p, dz):
    """dz = dp * (1 - p^2) for p = tanh(z); all (M, H)."""
    one = p.dtype.type(1)
    for m in range(p.shape[0]):
        d, y, out = dp[m], p[m], dz[m]
        for k in range(y.size):
            out[k] = d[k] * (one - y[k] * y[k])


@kernel
def tree_lstm_forward(g, bias, c_left, c_right, c, h):
    """g (M, 5H) pre-activations, in place to the gates' values; c, h (M, H) written."""
    H = c.shape[1]
    for m in range(g.shape[0]):
        row = g[m]
        _sigmoid_bias(row[:4 * H], bias[:4 * H])
        _tanh_bias(row[4 * H:], bias[4 * H:])
        i, fl, fr, o, u = row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:4 * H], row[4 * H:]
        cl, cr, cm, hm = c_left[m], c_right[m], c[m], h[m]
        for k in range(H):
            ck = i[k] * u[k] + fl[k] * cl[k] + fr[k] * cr[k]
            cm[k] = ck
            hm[k] = o[k] * tanh(ck)


@kernel
def tree_lstm_backward(dh, dc, g, c, c_left, c_right, dg, dc_left, dc_right):
    """From dh, dc (M, H) of the level's nodes and the gates g (M, 5H) saved by the forward: the
    pre-activation gradient dg (M, 5H) and the children's cell gradients (M, H). dc is scratch
    (it ends up holding the full gradient of c)."""
    H = c.shape[1]
    one = c.dtype.type(1)
    for m in range(g.shape[0]):
        row, d = g[m], dg[m]
        i, fl, fr, o, u = row[:H], row[H:2 * H], row[2 * H:3 * H], row[3 * H:4 * H], row[4 * H:]
        di, dfl, dfr, do, du = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:4 * H], d[4 * H:]
        dcm, cl, cr, dcl, dcr = dc[m], c_left[m], c_right[m], dc_left[m], dc_right[m]
        _cell_backward(dh[m], dcm, c[m], i, o, u, di, do, du)
        for k in range(H):
            dfl[k] = dcm[k] * cl[k] * fl[k] * (one - fl[k])
            dfr[k] = dcm[k] * cr[k] * fr[k] * (one - fr[k])
            dcl[k] = dcm[k] * fl[k]
            dcr[k] = dcm[k] * fr[k]


@kernel
def tree_lstm_leaf_forward(g, bias, c, h):
    """A leaf: g (M, 3H) = W x pre-activations (i, o, u), in place to the gates; c, h written."""
    H = c.shape[1]
    for m in range(g.shape[0]):
        row = g[m]
        _sigmoid_bias(row[:2 * H], bias[:2 * H])
        _tanh_bias(row[2 * H:], bias[2 * H:])
        i, o, u, cm, hm = row[:H], row[H:2 * H], row[2 * H:], c[m], h[m]
        for k in range(H):
            ck = i[k] * u[k]
            cm[k] = ck
            hm[k] = o[k] * tanh(ck)


@kernel
def tree_lstm_leaf_backward(dh, dc, g, c, dg):
    """dc is scratch, as in tree_lstm_backward."""
    H = c.shape[1]
    for m in range(g.shape[0]):
        row, d = g[m], dg[m]
        i, o, u, di, do, du = row[:H], row[H:2 * H], row[2 * H:], d[:H], d[H:2 * H], d[2 * H:]
        _cell_backward(dh[m], dc[m], c[m], i, o, u, di, do, du)
