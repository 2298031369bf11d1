"""Fused softmax + cross-entropy over rows of logits, forward and backward in one pass."""

from __future__ import annotations

import math

from ._jit import kernel
from .activations import exp


@kernel
def softmax_cross_entropy(logits, targets, grad_scale):
    """logits: (M, V), overwritten with ``grad_scale * (softmax(logits) - onehot(targets))``,
    the gradient of ``grad_scale * summed loss``; targets: (M,) ints. Returns the summed loss
    in nats (accumulated in float64)."""
    n_rows, V = logits.shape
    total = 0.0
    for m in range(n_rows):
        row = logits[m]
        target = targets[m]
        target_logit = row[target]
        top = row[0]
        for v in range(1, V):
            top = max(top, row[v])
        s = row.dtype.type(0)
        for v in range(V):
            e = exp(row[v] - top)
            row[v] = e
            s += e
        total += math.log(s) + top - target_logit
        inv = grad_scale / s
        for v in range(V):
            row[v] *= inv
        row[target] -= grad_scale
    return total


@kernel
def cross_entropy(logits, targets):
    """Summed cross-entropy (nats, float64) of rows of logits (M, V) against targets (M,);
    logits are left unchanged (forward only, for evaluation)."""
    n_rows, V = logits.shape
    total = 0.0
    for m in range(n_rows):
        row = logits[m]
        top = row[0]
        for v in range(1, V):
            top = max(top, row[v])
        s = row.dtype.type(0)
        for v in range(V):
            s += exp(row[v] - top)
        total += math.log(s) + top - row[targets[m]]
    return total
