"""Fused in-place optimizer updates over flat parameter buffers."""

from __future__ import annotations

import math

from ._jit import kernel


@kernel
def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step):
    """Adam (Kingma & Ba 2015) with bias correction, as torch.optim.Adam: ``step`` counts from 1."""
    bc1 = 1.0 - beta1**step
    bc2 = 1.0 - beta2**step
    step_size = lr / bc1
    inv_sqrt_bc2 = 1.0 / math.sqrt(bc2)
    t = param.dtype.type
    b1, b2, ss, ib, e = t(beta1), t(beta2), t(step_size), t(inv_sqrt_bc2), t(eps)
    for i in range(param.size):
        g = grad[i]
        mi = b1 * m[i] + (1 - b1) * g
        vi = b2 * v[i] + (1 - b2) * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= ss * mi / (math.sqrt(vi) * ib + e)


@kernel
def rmsprop_update(param, grad, sq, lr, alpha, eps):
    """RMSprop as torch.optim.RMSprop (no momentum, not centered): sq = alpha sq + (1-alpha) g^2,
    param -= lr g / (sqrt(sq) + eps)."""
    t = param.dtype.type
    a, lr_, e = t(alpha), t(lr), t(eps)
    for i in range(param.size):
        g = grad[i]
        s = a * sq[i] + (1 - a) * g * g
        sq[i] = s
        param[i] -= lr_ * g / (math.sqrt(s) + e)


@kernel
def sgd_update(param, grad, lr):
    """param -= lr * grad."""
    lr_ = param.dtype.type(lr)
    for i in range(param.size):
        param[i] -= lr_ * grad[i]


@kernel
def adagrad_update(param, grad, total, lr, eps):
    """Adagrad (Duchi et al. 2011) as torch.optim.Adagrad (no decay): total += g^2,
    param -= lr g / (sqrt(total) + eps)."""
    t = param.dtype.type
    lr_, e = t(lr), t(eps)
    for i in range(param.size):
        g = grad[i]
        s = total[i] + g * g
        total[i] = s
        param[i] -= lr_ * g / (math.sqrt(s) + e)


@kernel
def dynamic_sgd_update(param, grad, trained, lr, decay):
    """Dynamic evaluation's SGD rule (lm/measure/dynamic.py): param += decay (trained - param) - lr grad."""
    t = param.dtype.type
    lr_, d = t(lr), t(decay)
    for i in range(param.size):
        param[i] += d * (trained[i] - param[i]) - lr_ * grad[i]


@kernel
def dynamic_rms_update(param, grad, trained, lr, decay, ms, rate, eps):
    """Dynamic evaluation's RMS rule (lm/measure/dynamic.py): param += decay rate (trained - param)
    - lr grad / (ms + eps)."""
    t = param.dtype.type
    lr_, d, e = t(lr), t(decay), t(eps)
    for i in range(param.size):
        param[i] += d * rate[i] * (trained[i] - param[i]) - lr_ * grad[i] / (ms[i] + e)
