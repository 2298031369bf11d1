"""Dynamic evaluation (Krause et al. 2018, arXiv 1709.07432): the model keeps learning while it
reads the text it is measured on.

The text is read as one stream, cut into windows of ``seq_len`` tokens. Each window is first
scored with the current weights (its loss counts), then one gradient step on that same window
adapts the weights before the next window is read, so every token is predicted before any update
that has seen it. The SGD rule with decay back to the trained weights theta_0:

    theta <- theta - lr * grad + decay * (theta_0 - theta)

(``grad`` is the gradient of the window's mean loss.) The model's weights are put back as they
were when the evaluation ends, however it ends: a checkpoint is never changed.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError
from .evaluate import Evaluation


def check_settings(lr: float, decay: float, seq_len: int) -> None:
    if not (lr > 0 and np.isfinite(lr)):
        raise ConfigError(f"--lr for dynamic evaluation must be a positive number, got {lr}")
    if not (0 <= decay < 1):
        raise ConfigError(f"--decay must be in [0, 1), got {decay}")
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ConfigError(f"--seq-len must be a positive integer, got {seq_len!r}")


def dynamic_evaluate(model, tokens: np.ndarray, *, seq_len: int, lr: float, decay: float,
                     window_losses: list | None = None) -> Evaluation:
    """Score ``tokens`` (1-D ids, at least 2) one window at a time, adapting after each window.
    ``window_losses``, when given, receives each window's summed loss (nats) in order."""
    check_settings(lr, decay, seq_len)
    if tokens.size < 2:
        raise DataError(f"nothing to evaluate: {tokens.size} token(s), at least 2 are needed")
    data, grad = model.store.data, model.store.grad
    trained = data.copy()
    step, keep = data.dtype.type(lr), data.dtype.type(decay)
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
            data -= step * grad
            data += keep * (trained - data)
            model.refresh()
    finally:
        data[:] = trained
        model.refresh()
    return Evaluation(tokens=scored, loss_sum=float(total))
