"""From per-step outputs (T, N, F) of a padded batch to one vector per sequence (N, F), and back.

Only valid positions count: the max is over t < len, the mean divides by len, and the gradients
at padded positions are exactly zero (which is what keeps padding out of the recurrent layers'
gradients, see ``padding.py``).
"""

from __future__ import annotations

import numpy as np

from .padding import PaddedBatch


def last_forward(h: np.ndarray, batch: PaddedBatch) -> np.ndarray:
    """h: (T, N, 2H), a bidirectional layer's [forward; reverse] outputs. Returns (N, 2H): the
    forward direction after the last word (t = len-1) and the reverse direction after reading
    back to the first word (t = 0): each direction's final state."""
    T, N, F = h.shape
    H = F // 2
    flat = h.reshape(T * N, F)
    return np.concatenate((flat[batch.last, :H], flat[:N, H:]), axis=1)


def last_backward(dfeat: np.ndarray, batch: PaddedBatch) -> np.ndarray:
    T, N = batch.shape
    F = dfeat.shape[1]
    H = F // 2
    dh = np.zeros((T * N, F), dfeat.dtype)
    dh[batch.last, :H] = dfeat[:, :H]
    dh[:N, H:] = dfeat[:, H:]  # t = 0 is the flat rows 0..N-1
    return dh.reshape(T, N, F)


def mean_forward(h: np.ndarray, batch: PaddedBatch) -> np.ndarray:
    weights = batch.mask / batch.lengths[None, :]  # (T, N): 1/len at valid steps, 0 at padding
    return np.einsum("tn,tnf->nf", weights.astype(h.dtype), h)


def mean_backward(dfeat: np.ndarray, batch: PaddedBatch) -> np.ndarray:
    weights = (batch.mask / batch.lengths[None, :]).astype(dfeat.dtype)
    return weights[:, :, None] * dfeat[None, :, :]


def max_forward(h: np.ndarray, batch: PaddedBatch) -> tuple[np.ndarray, np.ndarray]:
    """Returns the pooled (N, F) and the argmax steps (N, F) the backward needs."""
    masked = np.where(batch.mask[:, :, None], h, -np.inf)
    arg = masked.argmax(axis=0)
    return np.take_along_axis(h, arg[None], axis=0)[0], arg


def max_backward(dfeat: np.ndarray, arg: np.ndarray, batch: PaddedBatch) -> np.ndarray:
    T, N = batch.shape
    dh = np.zeros((T, N, dfeat.shape[1]), dfeat.dtype)
    np.put_along_axis(dh, arg[None], dfeat[None], axis=0)
    return dh
