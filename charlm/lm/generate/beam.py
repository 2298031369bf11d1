"""Beam search over a language model (``charlm sample --beam K``): the K most likely
continuations by total log-probability, optionally ranked with a length penalty.

The prime warms the state once (the sampler's priming); then core/kernels/beam.py runs the
whole search in one jitted call (through an adaptive softmax, one jitted call per step around
the layer's log-probabilities; for the memory network, the model's own step, in Python).
Ranking: the total log-probability divided by length^A (``length_penalty`` A = 0: the plain
total, which favours short finished hypotheses only when a stop string can end them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError, UnusableWeights
from ..models.kinds import kind_of
from .sampler import Sampler, sampling_weights
from .sampling_config import SamplingConfig


@dataclass
class Hypothesis:
    ids: np.ndarray  # the generated token ids (after the prime)
    log_prob: float  # their total log-probability given the prime, nats
    finished: bool  # ended with the stop tokens

    def ranked(self, length_penalty: float) -> float:
        return self.log_prob / max(len(self.ids), 1) ** length_penalty


def beam_search(model, *, beam: int, length: int, prime_ids: np.ndarray, length_penalty: float = 0.0,
                stop_ids: np.ndarray | None = None) -> list[Hypothesis]:
    """The ``beam`` hypotheses of up to ``length`` tokens after ``prime_ids`` (at least one id: the
    last is the first input), best first under the length penalty."""
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
        raise ConfigError(f"--beam must be a positive integer, got {beam!r}")
    SamplingConfig(beam=int(beam), length=length, length_penalty=length_penalty)  # charlm sample's checks
    sampler = Sampler(model)
    sampler.prime(prime_ids)
    tokens = np.repeat(sampler.next_tokens.astype(np.int64), beam)
    scores = np.full(beam, -np.inf)
    scores[0] = 0.0  # the rows start identical: one of them expands first
    lengths = np.zeros(beam, np.int64)
    finished = np.zeros(beam, np.bool_)
    history = np.zeros((beam, length), np.int64)
    stop = np.asarray(stop_ids if stop_ids is not None else [], np.int64)
    if kind_of(model.config).runs_jitted_loops:
        _recurrent_search(model, sampler.state, beam, length, tokens, scores, lengths, finished, history, stop)
    else:
        _stepwise_search(model, sampler.state, beam, length, tokens, scores, lengths, finished, history, stop)
    found = [Hypothesis(history[k, :lengths[k]].copy(), float(scores[k]), bool(finished[k]))
             for k in range(beam) if np.isfinite(scores[k])]
    if not found or np.isnan(scores).any():  # log-probabilities that were not finite: weights that overflow
        raise UnusableWeights()
    found.sort(key=lambda hyp: -hyp.ranked(length_penalty))
    return found


def _recurrent_search(model, state, beam, length, tokens, scores, lengths, finished, history, stop) -> None:
    """A recurrent model: its h and c as (L, K, H) arrays the beam kernel reorders in place."""
    from ...core.kernels import beam as beam_k

    cfg = model.config
    h = np.ascontiguousarray(np.repeat(np.stack([layer[0] for layer in state]), beam, axis=1))
    c = np.ascontiguousarray(np.repeat(np.stack([layer[1] for layer in state]), beam, axis=1)) \
        if model.cell.has_cell_state else np.zeros_like(h)
    weights = sampling_weights(model)
    cell = model.cell
    if model.adaptive is None:
        beam_k.beam_search(cell, weights, h, c, tokens, scores, lengths, finished, history, stop)
        return
    # No single decoder matrix: the same steps, with the layer's own log-probabilities.
    scratch = beam_k.step_buffers(weights, beam, cfg.hidden_size, h.dtype)
    parents = np.empty(beam, np.int64)
    for _ in range(length):
        if beam_k.all_done(scores, finished):
            break
        beam_k.feed(cell, weights, h, c, tokens, *scratch)
        log_probs = model.adaptive.log_probs(h[-1])
        beam_k.advance(log_probs, h, c, tokens, scores, lengths, finished, history, stop, parents)


def _stepwise_search(model, state, beam, length, tokens, scores, lengths, finished, history, stop) -> None:
    """Any model, through ``step_logits``, its state in the model's own format (the memory
    network's memories), reordered here after each step by the rows' parents."""
    from ...core.kernels import beam as beam_k

    state = [tuple(np.repeat(part, beam, axis=0) for part in layer) for layer in state]
    nothing = np.zeros((1, beam, 1), model.dtype)  # no (L, K, H) state for the kernel to reorder
    parents = np.empty(beam, np.int64)
    for _ in range(length):
        if beam_k.all_done(scores, finished):
            break
        logits, state = model.step_logits(tokens, state)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        beam_k.advance(log_probs, nothing, nothing.copy(), tokens, scores, lengths, finished, history, stop, parents)
        rows = np.maximum(parents, 0)  # a dead row (-1) keeps any state: it never expands again
        state = [tuple(part[rows] for part in layer) for layer in state]
