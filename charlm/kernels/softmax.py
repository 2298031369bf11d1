"""Fused softmax + cross-entropy over rows of logits, forward and backward in one pass."""

from __future__ import annotations

import math

from ._jit import kernel
from .activations import exp


@kernel
def softmax_cross_entropy(logits, bias, targets, grad_scale, dbias):
    """logits: (M, V) products ``h W^T`` without the bias (V,), overwritten with
    ``grad_scale * (softmax(logits + bias) - onehot(targets))``, the gradient of
    ``grad_scale * summed loss``; targets: (M,) ints; dbias: (V,) accumulates the bias gradient.
    Returns the summed loss in nats (accumulated in float64)."""
    n_rows, V = logits.shape
    total = 0.0
    for m in range(n_rows):
        row = logits[m]
        target = targets[m]
        target_logit = row[target] + bias[target]
        top = row[0] + bias[0]
        for v in range(1, V):
            top = max(top, row[v] + bias[v])
        s = row.dtype.type(0)
        for v in range(V):
            e = exp(row[v] + bias[v] - top)
            row[v] = e
            s += e
        total += math.log(s) + top - target_logit
        inv = grad_scale / s
        for v in range(V):
            row[v] *= inv
        row[target] -= grad_scale
        for v in range(V):
            dbias[v] += row[v]
    return total


@kernel
def cross_entropy(logits, bias, targets):
    """Summed cross-entropy (nats, float64) of rows of ``logits + bias`` (M, V) against targets
    (M,); logits are left unchanged (forward only, for evaluation)."""
    n_rows, V = logits.shape
    total = 0.0
    for m in range(n_rows):
        row = logits[m]
        top = row[0] + bias[0]
        for v in range(1, V):
            top = max(top, row[v] + bias[v])
        s = row.dtype.type(0)
        for v in range(V):
            s += exp(row[v] + bias[v] - top)
        t = targets[m]
        total += math.log(s) + top - (row[t] + bias[t])
    return total
