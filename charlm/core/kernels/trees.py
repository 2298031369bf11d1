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

from ._jit import kernel
from .activations import sigmoid, tanh


@kernel
def tanh_bias_forward(z, bias):
    """z[m] = tanh(z[m] + bias), in place; z: (M, H)."""
    for m in range(z.shape[0]):
        row = z[m]
        for k in range(row.size):
            row[k] = tanh(row[k] + bias[k])


@kernel
def tanh_backward(dp, p, dz):
    """dz = dp * (1 - p^2) for p = tanh(z); all (M, H)."""
    one = p.dtype.type(1)
    for m in range(p.shape[0]):
        for k in range(p.shape[1]):
            dz[m, k] = dp[m, k] * (one - p[m, k] * p[m, k])


@kernel
def tree_lstm_forward(g, bias, c_left, c_right, c, h):
    """g (M, 5H) pre-activations, in place to the gates' values; c, h (M, H) written."""
    H = c.shape[1]
    for m in range(g.shape[0]):
        row = g[m]
        for k in range(H):
            i = sigmoid(row[k] + bias[k])
            fl = sigmoid(row[H + k] + bias[H + k])
            fr = sigmoid(row[2 * H + k] + bias[2 * H + k])
            o = sigmoid(row[3 * H + k] + bias[3 * H + k])
            u = tanh(row[4 * H + k] + bias[4 * H + k])
            row[k], row[H + k], row[2 * H + k], row[3 * H + k], row[4 * H + k] = i, fl, fr, o, u
            ck = i * u + fl * c_left[m, k] + fr * c_right[m, k]
            c[m, k] = ck
            h[m, k] = o * tanh(ck)


@kernel
def tree_lstm_backward(dh, dc, g, c, c_left, c_right, dg, dc_left, dc_right):
    """From dh, dc (M, H) of the level's nodes and the gates g (M, 5H) saved by the forward: the
    pre-activation gradient dg (M, 5H) and the children's cell gradients (M, H)."""
    H = c.shape[1]
    one = c.dtype.type(1)
    for m in range(g.shape[0]):
        row = g[m]
        for k in range(H):
            i, fl, fr, o, u = row[k], row[H + k], row[2 * H + k], row[3 * H + k], row[4 * H + k]
            tc = tanh(c[m, k])
            d_o = dh[m, k] * tc
            dct = dc[m, k] + dh[m, k] * o * (one - tc * tc)
            dg[m, k] = dct * u * i * (one - i)
            dg[m, H + k] = dct * c_left[m, k] * fl * (one - fl)
            dg[m, 2 * H + k] = dct * c_right[m, k] * fr * (one - fr)
            dg[m, 3 * H + k] = d_o * o * (one - o)
            dg[m, 4 * H + k] = dct * i * (one - u * u)
            dc_left[m, k] = dct * fl
            dc_right[m, k] = dct * fr


@kernel
def tree_lstm_leaf_forward(g, bias, c, h):
    """A leaf: g (M, 3H) = W x pre-activations (i, o, u), in place to the gates; c, h written."""
    H = c.shape[1]
    for m in range(g.shape[0]):
        row = g[m]
        for k in range(H):
            i = sigmoid(row[k] + bias[k])
            o = sigmoid(row[H + k] + bias[H + k])
            u = tanh(row[2 * H + k] + bias[2 * H + k])
            row[k], row[H + k], row[2 * H + k] = i, o, u
            ck = i * u
            c[m, k] = ck
            h[m, k] = o * tanh(ck)


@kernel
def tree_lstm_leaf_backward(dh, dc, g, c, dg):
    H = c.shape[1]
    one = c.dtype.type(1)
    for m in range(g.shape[0]):
        row = g[m]
        for k in range(H):
            i, o, u = row[k], row[H + k], row[2 * H + k]
            tc = tanh(c[m, k])
            dct = dc[m, k] + dh[m, k] * o * (one - tc * tc)
            dg[m, k] = dct * u * i * (one - i)
            dg[m, H + k] = dh[m, k] * tc * o * (one - o)
            dg[m, 2 * H + k] = dct * i * (one - u * u)
