"""Small elementwise and indexing kernels used around the matrix products."""

from __future__ import annotations

from ._jit import kernel


@kernel
def gather_rows(table, index, out):
    """out[m] = table[index[m]]; table: (V, K); index: (M,) ints; out: (M, K)."""
    for m in range(index.shape[0]):
        out[m, :] = table[index[m]]


@kernel
def scatter_add_rows(out, index, rows):
    """out[index[m]] += rows[m]; out: (V, K); index: (M,); rows: (M, K). Repeated indices add up."""
    for m in range(index.shape[0]):
        k = index[m]
        for j in range(rows.shape[1]):
            out[k, j] += rows[m, j]


@kernel
def dropout_forward(x, uniform, p, out):
    """Inverted dropout: out = x * (uniform >= p) / (1 - p). All arrays the same size (flat views)."""
    scale = x.dtype.type(1.0 / (1.0 - p))
    zero = x.dtype.type(0)
    keep_from = uniform.dtype.type(p)
    for i in range(x.size):
        out[i] = x[i] * scale if uniform[i] >= keep_from else zero


@kernel
def dropout_backward(dout, uniform, p, dx):
    """dx = dout * (uniform >= p) / (1 - p): the same mask as the forward, rebuilt from ``uniform``."""
    scale = dout.dtype.type(1.0 / (1.0 - p))
    zero = dout.dtype.type(0)
    keep_from = uniform.dtype.type(p)
    for i in range(dout.size):
        dx[i] = dout[i] * scale if uniform[i] >= keep_from else zero


@kernel
def add_rows(m, out):
    """out += m.sum(axis=0) for m: (M, K), out: (K,)."""
    for i in range(m.shape[0]):
        for k in range(m.shape[1]):
            out[k] += m[i, k]
