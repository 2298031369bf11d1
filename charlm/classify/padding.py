"""A batch of variable-length sequences, padded at the end, and the index arrays that keep the
padding out of everything that matters.

Layout, time-major (T = the longest length, N sequences), ``.`` = padding (token 0)::

    t:        0  1  2  3  4
    n=0       a  b  c  d  e      length 5
    n=1       f  g  .  .  .      length 2
    n=2       h  i  j  .  .      length 3

A forward-direction RNN reads each column top to bottom: the padding comes after the valid steps,
so it cannot touch their outputs, and with a zero gradient at padded positions (and none into the
final state) nothing flows back through it either. The reverse direction reads each sequence
back to front *within its own length*: ``reverse`` maps position (t, n) to (len[n]-1-t, n) for
t < len[n] and leaves the padding where it is, so reversed, column n=1 is ``g f . . .``. The map
is its own inverse: the same gather un-reverses the outputs and reverses their gradients.
"""

from __future__ import annotations

import numpy as np


class PaddedBatch:
    def __init__(self, tokens: np.ndarray, lengths: np.ndarray):
        """tokens: (T, N) int32 ids, padded with 0 after each sequence; lengths: (N,) in 1..T."""
        T, N = tokens.shape
        lengths = np.asarray(lengths, np.int64)
        if lengths.shape != (N,) or N == 0 or lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"lengths must be N={N} values in 1..{T}, got {lengths}")
        self.tokens = np.ascontiguousarray(tokens, np.int32)
        self.lengths = lengths
        self.shape = (T, N)
        t = np.arange(T)[:, None]
        columns = np.arange(N)[None, :]
        self.mask = t < lengths[None, :]  # (T, N) True at valid positions
        rows = np.where(self.mask, lengths[None, :] - 1 - t, t)
        self.reverse = np.ascontiguousarray((rows * N + columns).reshape(T * N), np.int32)  # flat (T*N,) gather index
        self.last = (lengths - 1) * N + np.arange(N)  # flat index of each sequence's last valid position

    @classmethod
    def from_sequences(cls, sequences: list[np.ndarray]) -> "PaddedBatch":
        """Pad 1-D id arrays (each non-empty) into one (T, N) batch."""
        lengths = np.array([s.size for s in sequences], np.int64)
        tokens = np.zeros((int(lengths.max()), len(sequences)), np.int32)
        for n, s in enumerate(sequences):
            tokens[: s.size, n] = s
        return cls(tokens, lengths)

    @property
    def n_valid(self) -> int:
        return int(self.lengths.sum())


def length_buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None, pool: int = 50) -> list[np.ndarray]:
    """Indices of minibatches that limit padding: shuffle (with ``rng``), sort each pool of
    ``pool * batch_size`` examples by length, cut it into batches, shuffle the batches. Without
    ``rng`` (evaluation) everything is sorted by length and nothing is random."""
    n = lengths.size
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    batches = []
    step = pool * batch_size
    for start in range(0, n, step):
        chunk = order[start : start + step]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, chunk.size, batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]
