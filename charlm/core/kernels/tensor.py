"""Small row-wise, elementwise and indexing kernels used around the matrix products.

Loops run over whole 1-D (row) views from index 0 with few distinct arrays: the form LLVM
vectorises reliably (see the note in lstm.py)."""

from __future__ import annotations

from ._jit import inline_kernel, kernel
from .activations import sigmoid, tanh


@inline_kernel
def sigmoid_inplace(x, r, b):
    """x[k] = sigmoid(x[k] + r[k] + b[k]) over whole 1-D views."""
    for k in range(x.size):
        x[k] = sigmoid(x[k] + r[k] + b[k])


@inline_kernel
def tanh_inplace(x, r, b):
    """x[k] = tanh(x[k] + r[k] + b[k]) over whole 1-D views."""
    for k in range(x.size):
        x[k] = tanh(x[k] + r[k] + b[k])


@inline_kernel
def add_into(x, y):
    """x[k] += y[k] over whole 1-D views."""
    for k in range(x.size):
        x[k] += y[k]


@kernel
def accumulate_rows(m, total):
    """total += m.sum(axis=0) for m: (M, K), total: (K,)."""
    for n in range(m.shape[0]):
        row = m[n]
        for k in range(row.size):
            total[k] += row[k]


@kernel
def gather_rows(table, index, out):
    """out[m] = table[index[m]]; table: (V, K); index: (M,) ints; out: (M, K)."""
    for m in range(index.shape[0]):
        out[m, :] = table[index[m]]


@kernel
def scatter_add_rows(out, index, rows):
    """out[index[m]] += rows[m]; out: (V, K); index: (M,); rows: (M, K). Repeated indices add up."""
    for m in range(index.shape[0]):
        dst, src = out[index[m]], rows[m]
        for j in range(src.size):
            dst[j] += src[j]


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
