"""Fused softmax + cross-entropy over rows of logits, forward and backward in one pass.

The row maximum is a separate function compiled with the no-NaN fast-math flag: without it LLVM
keeps a max reduction scalar (a NaN must win), with it the loop vectorises (700x10,000 logits:
the whole kernel 20.8 -> 18.8 ms, 2048x65: 0.44 -> 0.34 ms). A NaN or inf logit still poisons the
result: it reaches the exponentials and their sum whatever maximum was found.
"""

from __future__ import annotations

import math

import numba

from ._jit import FASTMATH, JIT_OPTIONS, kernel
from .activations import exp


@numba.njit(**{**JIT_OPTIONS, "fastmath": set(FASTMATH) | {"nnan"}})
def _shifted_row_max(row, bias):
    """max over v of row[v] + bias[v]."""
    top = row[0] + bias[0]
    for v in range(1, row.size):
        top = max(top, row[v] + bias[v])
    return top


@kernel
def softmax_cross_entropy(logits, bias, targets, grad_scale, dbias):
    """logits: (M, V) products ``h W^T`` without the bias (V,), overwritten with
    ``grad_scale * (softmax(logits + bias) - onehot(targets))``, the gradient of
    ``grad_scale * summed loss``; targets: (M,) ints, a negative one masks its row (no loss, zero
    gradient: a target across a document boundary); dbias: (V,) accumulates the bias gradient.
    Returns the summed loss in nats (accumulated in float64)."""
    n_rows, V = logits.shape
    total = 0.0
    for m in range(n_rows):
        row = logits[m]
        target = targets[m]
        if target < 0:
            row[:] = 0
            continue
        target_logit = row[target] + bias[target]
        top = _shifted_row_max(row, bias)
        s = row.dtype.type(0)
        for v in range(V):
            e = exp(row[v] + bias[v] - top)
            row[v] = e
            s += e
        total += math.log(s) + top - target_logit
        inv = row.dtype.type(grad_scale / s)  # in the row's precision: a float64 factor halves the speed
        for v in range(V):
            g = row[v] * inv
            row[v] = g
            dbias[v] += g
        row[target] -= grad_scale
        dbias[target] -= grad_scale
    return total


@kernel
def cross_entropy(logits, bias, targets):
    """Summed cross-entropy (nats, float64) of rows of ``logits + bias`` (M, V) against targets
    (M,), skipping rows whose target is negative (masked); logits are left unchanged (forward
    only, for evaluation)."""
    n_rows, V = logits.shape
    total = 0.0
    for m in range(n_rows):
        if targets[m] < 0:
            continue
        row = logits[m]
        top = _shifted_row_max(row, bias)
        s = row.dtype.type(0)
        for v in range(V):
            s += exp(row[v] + bias[v] - top)
        t = targets[m]
        total += math.log(s) + top - (row[t] + bias[t])
    return total
