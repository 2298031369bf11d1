"""The parallel-stream layout of a token array (:func:`batchify`), the truncated-BPTT windows
over it (:func:`windows`) and where documents begin inside a window (:func:`document_breaks`),
shared by training and evaluation."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ...errors import DataError

def batchify(tokens: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut a token stream into N = batch_size contiguous streams of L = len // N tokens, side
    by side; the remainder is dropped. A view (no copy) of a contiguous array::

        tokens  a b c d e f g h i j k l m n o p q r s t u v w x y z
        N = 4   ┌ a b c d e f ┐  stream 0 = tokens[0:L]
                │ g h i j k l │  stream 1 = tokens[L:2L]        L = 26 // 4 = 6
                │ m n o p q r │  stream 2                       y z dropped
                └ s t u v w x ┘  stream 3
        result: (N, L); the streams are independent, so the hidden state of stream i carries
        over from one window to the next (truncated BPTT) but never mixes with stream j.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens.shape}")
    length = tokens.size // batch_size
    return tokens[: batch_size * length].reshape(batch_size, length)


def count_windows(streams: np.ndarray, seq_len: int, start: int = 0) -> int:
    """Number of windows :func:`windows` yields (from ``start``; a full epoch from 0)."""
    _check_seq_len(seq_len)
    remaining = streams.shape[1] - 1 - start  # the last token of a stream is only a target
    return max(0, math.ceil(remaining / seq_len))


def windows(
    streams: np.ndarray, seq_len: int, start: int = 0, dtype=np.int32
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(position, x, y)`` over (N, L) streams: x = streams[:, p:p+T].T and
    y = streams[:, p+1:p+1+T].T, fresh C-contiguous (T, N) arrays of ``dtype`` (one integer
    type for every vocabulary size, so the kernels compile once). Positions run start,
    start + T, ... while a target is left; the last window may be shorter::

        stream i   t0 t1 t2 t3 t4 t5 t6 t7 t8 t9          T = 4
        window 0   x: t0..t3   y: t1..t4      position 0
        window 1   x: t4..t7   y: t5..t8      position 4
        window 2   x: t8       y: t9          position 8 (short)

    ``start`` resumes an epoch from a saved position.
    """
    _check_seq_len(seq_len)
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    length = streams.shape[1]
    for position in range(start, length - 1, seq_len):
        t = min(seq_len, length - 1 - position)
        x = np.ascontiguousarray(streams[:, position : position + t].T, dtype=dtype)
        y = np.ascontiguousarray(streams[:, position + 1 : position + 1 + t].T, dtype=dtype)
        yield position, x, y


def random_windows(tokens: np.ndarray, span: int, seq_len: int, rows: int, rng: np.random.Generator, start: int = 0,
                   mine: slice = slice(None), dtype=np.int32) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(position, x, y, offsets)`` at the positions :func:`windows` takes over streams of
    ``span + 1`` tokens (as many windows an epoch), but each window's ``rows`` rows start at
    ``offsets`` drawn anew from ``rng``: x[t, r] = tokens[offsets[r] + t], y one token on. The
    rows carry nothing from one window to the next, so only a memory network can train on them
    (the MemN2N authors draw each batch's targets at random positions). With several processes
    each draws the whole batch's offsets from the same generator and yields only its rows, ``mine``."""
    _check_seq_len(seq_len)
    for position in range(start, span, seq_len):
        offsets = rng.integers(0, tokens.size - seq_len, size=rows)[mine]  # the last target: offset + T
        reads = offsets[None, :] + np.arange(seq_len)[:, None]  # (T, N)
        yield position, tokens[reads].astype(dtype), tokens[reads + 1].astype(dtype), offsets


def document_breaks(starts: np.ndarray, row_offsets: np.ndarray, position: int, y: np.ndarray) -> tuple:
    """The document boundaries inside one window, for a corpus of several files.

    ``starts``: sorted token indices where a document begins (the first one's 0 left out);
    ``row_offsets``: the token index each stream (row) begins at; the window covers columns
    ``position .. position + T`` of every stream, so step t of row r reads token
    ``row_offsets[r] + position + t`` and predicts the next. Targets that are a document's first
    token are masked in ``y`` (T, N) (set to -1: nothing of one file predicts the next), and the
    returned resets ``((t, rows), ...)`` say which rows start step t from a zero state."""
    if starts.size == 0:
        return ()
    T = y.shape[0]
    first = row_offsets + position  # the token each row reads at step 0
    lo = np.searchsorted(starts, first)
    hi = np.searchsorted(starts, first + T + 1)  # through the last target, token first + T
    by_step: dict[int, list[int]] = {}
    for row in np.flatnonzero(hi > lo):
        for start in starts[lo[row] : hi[row]]:
            step = int(start - first[row])
            if step >= 1:
                y[step - 1, row] = -1
            if step < T:
                by_step.setdefault(step, []).append(int(row))
    return tuple((step, np.array(rows, np.intp)) for step, rows in sorted(by_step.items()))


def _check_seq_len(seq_len) -> None:
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive integer, got {seq_len!r}")


def check_trainable(n_tokens: int, batch_size: int, seq_len: int) -> None:
    """DataError unless the training split fills at least one full window of every stream."""
    need = batch_size * (seq_len + 1)
    if n_tokens >= need:
        return
    hints = []
    if n_tokens // batch_size >= 2:
        hints.append(f"--seq-len {n_tokens // batch_size - 1}")
    if n_tokens // (seq_len + 1) >= 1:
        hints.append(f"--batch-size {n_tokens // (seq_len + 1)}")
    hint = f" (e.g. {' or '.join(hints)})" if hints else ""
    raise DataError(
        f"corpus too short: {n_tokens} training tokens, one window needs batch-size x (seq-len + 1) = "
        f"{batch_size} x {seq_len + 1} = {need}; lower --batch-size or --seq-len{hint}"
    )


def count_scored(targets: np.ndarray) -> int:
    """Targets that count (a negative one is masked)."""
    return targets.size - int(np.count_nonzero(targets < 0))
