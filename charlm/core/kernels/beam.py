"""Beam search, jitted end to end: K hypotheses advance together as K rows of one batch; after
each step the K best of all (hypothesis, next token) pairs are kept, their states and histories
copied from their parents, all inside this loop (no Python per step).

An adaptive softmax has no single decoder matrix, and the memory network no recurrent layers:
for them lm/generate/beam.py loops in Python over the model's step (for an adaptive softmax, ``feed``), its
log-probabilities and ``advance``, the pieces this loop runs. ``feed`` is the sampling loop's
network step (``sampling.network_step``) for one thread: the layer-0 table lookup, then per layer
the input and recurrent products and the cell's own step, written once for training. A finished hypothesis
(its text ended with the stop tokens) stays in the beam as one candidate, itself, at its final
score, until K unfinished ones all score better.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .sampling import matmul_nt, network_step


@kernel
def feed(cell, weights, h, c, tokens, a, r, hn, h_new, c_new):
    """Feed ``tokens`` (K,) to every row: h, c (L, K, H) advance in place. (One part, owning
    every unit, so its own copies of h and c are h and c, and it meets no other at barriers.)"""
    zero = np.int64(0)  # not a literal 0, so the sampling loop's compiled network_step serves
    network_step(cell, weights, tokens, h, h, c, a, r, hn, h_new, c_new, np.zeros(1, np.int64), zero, zero)


@kernel
def _push(best_score, best_row, best_token, score, row, token):
    """Insert a candidate into the sorted (descending) top-K lists if it belongs there."""
    K = best_score.size
    if score <= best_score[K - 1]:
        return
    i = K - 1
    while i > 0 and best_score[i - 1] < score:
        best_score[i], best_row[i], best_token[i] = best_score[i - 1], best_row[i - 1], best_token[i - 1]
        i -= 1
    best_score[i], best_row[i], best_token[i] = score, row, token


@kernel
def _log_softmax_rows(logits, b_dec):
    """Add the decoder bias and normalise each row of (K, V) logits into log-probabilities, in place."""
    K, V = logits.shape
    for k in range(K):
        row = logits[k]
        top = -np.inf
        for v in range(V):
            row[v] += b_dec[v]
            top = max(top, float(row[v]))
        total = 0.0
        for v in range(V):
            total += np.exp(float(row[v]) - top)
        log_norm = top + np.log(total)
        for v in range(V):
            row[v] = float(row[v]) - log_norm


@kernel
def all_done(scores, finished):
    """True when no hypothesis can grow: each is finished or dead."""
    for k in range(scores.size):
        if not finished[k] and scores[k] != -np.inf:
            return False
    return True


@kernel
def advance(log_probs, h, c, tokens, scores, lengths, finished, history, stop, parents):
    """One beam step after the network's: keep the K best (hypothesis, next token) pairs under
    ``log_probs`` (K, V), copying each survivor's state (h, c: (L, K, H)) and history from its
    parent; ``parents`` (K,) gets each row's parent (-1: a dead row), for a state kept elsewhere."""
    K, V = log_probs.shape
    M = stop.size
    best_score = np.full(K, -np.inf)
    best_row, best_token = np.full(K, -1, np.int64), np.full(K, -1, np.int64)
    for k in range(K):
        if scores[k] == -np.inf:
            continue
        if finished[k]:
            _push(best_score, best_row, best_token, scores[k], k, -1)
            continue
        for v in range(V):
            _push(best_score, best_row, best_token, scores[k] + float(log_probs[k, v]), k, v)
    h_old, c_old, history_old = h.copy(), c.copy(), history.copy()
    lengths_old, finished_old = lengths.copy(), finished.copy()
    parents[:] = best_row
    for i in range(K):
        parent = best_row[i]
        if parent < 0:  # fewer live candidates than rows
            scores[i] = -np.inf
            continue
        h[:, i], c[:, i] = h_old[:, parent], c_old[:, parent]
        history[i] = history_old[parent]
        lengths[i], finished[i], scores[i] = lengths_old[parent], finished_old[parent], best_score[i]
        if best_token[i] >= 0:
            n = lengths[i]
            history[i, n] = best_token[i]
            lengths[i] = n + 1
            tokens[i] = best_token[i]
            if M > 0 and n + 1 >= M:
                hit = True
                for j in range(M):
                    hit = hit and history[i, n + 1 - M + j] == stop[j]
                finished[i] = hit


def step_buffers(weights, K: int, H: int, dtype) -> tuple:
    """Scratch rows for ``feed``: a, r (K, gates·H), then hn, h_new, c_new (K, H)."""
    GH = weights.w_hh.shape[1]
    return (np.empty((K, GH), dtype), np.empty((K, GH), dtype),
            np.empty((K, H), dtype), np.empty((K, H), dtype), np.empty((K, H), dtype))


@kernel
def beam_search(cell, weights, h, c, tokens, scores, lengths, finished, history, stop):
    """Advance K hypotheses (rows) by up to S = history.shape[1] tokens through a full softmax.

    cell: a ``Cell``; weights: ``sampling.SamplingWeights`` with a decoder (weights.w_dec);
    h, c: (L, K, H) states, every row the primed state; tokens: (K,) the next input of each row;
    scores: (K,) float64 total log-probabilities, -inf for rows that must not start (all but one:
    the rows begin identical); lengths: (K,) tokens generated; finished: (K,) bool; history:
    (K, S) the generated ids; stop: (M,) ids that end a hypothesis (M = 0: none). Returns the
    number of steps run (fewer than S when every hypothesis finished)."""
    L, K, H = h.shape
    S = history.shape[1]
    GH = weights.w_hh.shape[1]
    dtype = h.dtype
    a, r = np.empty((K, GH), dtype), np.empty((K, GH), dtype)
    hn, h_new, c_new = np.empty((K, H), dtype), np.empty((K, H), dtype), np.empty((K, H), dtype)
    logits = np.empty((K, weights.w_dec.shape[0]), dtype)
    parents = np.empty(K, np.int64)
    for step in range(S):
        if all_done(scores, finished):
            return step
        feed(cell, weights, h, c, tokens, a, r, hn, h_new, c_new)
        matmul_nt(h[L - 1], weights.w_dec, logits)
        _log_softmax_rows(logits, weights.b_dec)
        advance(logits, h, c, tokens, scores, lengths, finished, history, stop, parents)
    return S
