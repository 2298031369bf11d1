"""Dynamic evaluation (Krause et al. 2018, arXiv 1709.07432): the model keeps learning while it
reads the text it is measured on.

The text is read as one stream, cut into windows of ``seq_len`` tokens. Each window is first
scored with the current weights (its loss counts), then one gradient step on that same window
adapts the weights before the next window is read, so every token is predicted before any update
that has seen it. ``grad`` is the gradient of the window's mean loss. The two rules of the paper:

- SGD with decay back to the trained weights theta_0:
      theta <- theta - lr * grad + decay * (theta_0 - theta)
- RMS-normalised ("RMS with an RMS global prior"), from the root mean squared gradient ``ms``
  gathered on training text (:func:`gradient_statistics`), each weight's decay scaled by its
  ``ms`` over the mean of the tensors' mean ``ms`` (clipped at 1/decay, so no decay overshoots):
      theta <- theta - lr * grad / (ms + eps) + decay * rate * (theta_0 - theta)

The model's weights are put back as they were when the evaluation ends, however it ends: a
checkpoint is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError, DataError
from .evaluate import Evaluation


def check_settings(lr: float, decay: float, seq_len: int) -> None:
    if not (lr > 0 and np.isfinite(lr)):
        raise ConfigError(f"--lr for dynamic evaluation must be a positive number, got {lr}")
    if not (0 <= decay < 1):
        raise ConfigError(f"--decay must be in [0, 1), got {decay}")
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ConfigError(f"--seq-len must be a positive integer, got {seq_len!r}")


def decayed_sgd_update(data, grad, trained, lr: float, decay: float) -> None:
    """theta += decay (theta_0 - theta) - lr grad, in place (the decay on the weights before the
    step), in one fused pass: numpy's five temporaries cost more than the window's gradient."""
    from ...core.kernels.optim import dynamic_sgd_update

    dynamic_sgd_update(data, grad, trained, lr, decay)


def rms_update(data, grad, trained, lr: float, decay: float, ms, rate, eps: float) -> None:
    """theta += decay rate (theta_0 - theta) - lr grad / (ms + eps), in place, fused."""
    from ...core.kernels.optim import dynamic_rms_update

    dynamic_rms_update(data, grad, trained, lr, decay, ms, rate, eps)


@dataclass
class GradientStatistics:
    ms: np.ndarray  # (store size,) root mean squared gradient of every weight over training windows
    rate: np.ndarray  # ms over the mean of the parameter tensors' mean ms: each weight's decay scale
    windows: int


def gradient_statistics(model, tokens: np.ndarray, *, seq_len: int, batch_size: int = 100,
                        max_windows: int | None = None) -> GradientStatistics:
    """Root mean squared gradients over training windows (``batch_size`` streams, the state
    carried), for the RMS rule. The weights are not changed."""
    from ..data.batching import batchify, windows

    streams = batchify(tokens, batch_size)
    state = model.initial_state(batch_size)
    total = np.zeros_like(model.store.data, dtype=np.float64)
    count = 0
    for _, x, y in windows(streams, seq_len):
        _, state = model.train_step(x, y, state)
        total += np.square(model.store.grad, dtype=np.float64)
        count += 1
        if max_windows is not None and count >= max_windows:
            break
    if count == 0:
        raise DataError("the statistics text is shorter than one window of every stream: give more text or "
                        "a smaller --seq-len")
    ms = np.sqrt(total / count)
    means = [ms[model.store.offsets[n]:model.store.offsets[n] + int(np.prod(shape))].mean()
             for n, shape in model.store.shapes.items()]
    dtype = model.store.data.dtype
    return GradientStatistics(ms.astype(dtype), (ms / max(float(np.mean(means)), 1e-30)).astype(dtype), count)


def dynamic_evaluate(model, tokens: np.ndarray, *, seq_len: int, lr: float, decay: float,
                     stats: GradientStatistics | None = None, eps: float = 2e-5,
                     window_losses: list | None = None) -> Evaluation:
    """Score ``tokens`` (1-D ids, at least 2) one window at a time, adapting after each window:
    the SGD rule, or with ``stats`` the RMS rule. ``window_losses``, when given, receives each
    window's summed loss (nats) in order."""
    check_settings(lr, decay, seq_len)
    if tokens.size < 2:
        raise DataError(f"nothing to evaluate: {tokens.size} token(s), at least 2 are needed")
    data, grad = model.store.data, model.store.grad
    trained = data.copy()
    if stats is not None:
        rate = np.minimum(stats.rate, data.dtype.type(1 / decay)) if decay > 0 else stats.rate
    x, y = tokens[:-1], tokens[1:]
    state = model.initial_state(1)
    total, scored = 0.0, 0
    try:
        for start in range(0, x.size, seq_len):
            xw = np.ascontiguousarray(x[start:start + seq_len].reshape(-1, 1))
            yw = np.ascontiguousarray(y[start:start + seq_len].reshape(-1, 1), dtype=np.int32)
            mean_loss, state = model.train_step(xw, yw, state)  # scored with the weights before this window's step
            window = mean_loss * yw.size
            total += window
            scored += yw.size
            if window_losses is not None:
                window_losses.append(window)
            if stats is None:
                decayed_sgd_update(data, grad, trained, lr, decay)
            else:
                rms_update(data, grad, trained, lr, decay, stats.ms, rate, eps)
            model.refresh()
    finally:
        data[:] = trained
        model.refresh()
    return Evaluation(tokens=scored, loss_sum=float(total))
