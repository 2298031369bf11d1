"""What both classifier families put at their ends: inverted dropout with its masks kept by site
for the backward pass, and the softmax of a batch of logits."""

from __future__ import annotations

import numpy as np

from ..core.kernels import tensor as tensor_k


class Dropout:
    """The inverted-dropout masks of one step, by site name. ``rng=None`` (evaluation): none."""

    def __init__(self, p: float, rng: np.random.Generator | None):
        self.p = p if rng is not None else 0.0
        self.rng = rng
        self._uniform: dict[str, np.ndarray] = {}

    def apply(self, site: str, x: np.ndarray) -> np.ndarray:
        if self.p == 0.0:
            return x
        x = np.ascontiguousarray(x)
        uniform = self.rng.random(x.shape, dtype=x.dtype.type)
        out = np.empty_like(x)
        tensor_k.dropout_forward(x.reshape(-1), uniform.reshape(-1), self.p, out.reshape(-1))
        self._uniform[site] = uniform
        return out

    def back(self, site: str, d: np.ndarray) -> np.ndarray:
        """The gradient through the same mask (in place when ``d`` is contiguous)."""
        if self.p == 0.0:
            return d
        d = np.ascontiguousarray(d)
        tensor_k.dropout_backward(d.reshape(-1), self._uniform[site].reshape(-1), self.p, d.reshape(-1))
        return d


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
