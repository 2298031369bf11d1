"""Beam search over a language model (``charlm sample --beam K``): the K most likely
continuations by total log-probability, optionally ranked with a length penalty.

The prime warms the state once (the sampler's priming); then core/kernels/beam.py runs the
whole search in one jitted call (through an adaptive softmax, one jitted call per step around
the layer's log-probabilities). Ranking: the total log-probability divided by length^A
(``length_penalty`` A = 0: the plain total, which favours short finished hypotheses only when a
stop string can end them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .networks import require_recurrent
from .sampler import Sampler, sampling_weights


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
    from ..core.kernels import beam as beam_k
    from ..core.kernels import sampling as sampling_k

    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
        raise ConfigError(f"--beam must be a positive integer, got {beam!r}")
    if not np.isfinite(length_penalty) or length_penalty < 0:
        raise ConfigError(f"--length-penalty must be 0 or more, got {length_penalty}")
    require_recurrent(model, "charlm sample --beam")
    sampler = Sampler(model)
    sampler.prime(prime_ids)
    cfg = model.config
    state = sampler.state
    h = np.ascontiguousarray(np.repeat(np.stack([layer[0] for layer in state]), beam, axis=1))
    c = np.ascontiguousarray(np.repeat(np.stack([layer[1] for layer in state]), beam, axis=1)) \
        if model.cell.has_cell_state else np.zeros_like(h)
    tokens = np.repeat(sampler.next_tokens.astype(np.int64), beam)
    scores = np.full(beam, -np.inf)
    scores[0] = 0.0  # the rows start identical: one of them expands first
    lengths = np.zeros(beam, np.int64)
    finished = np.zeros(beam, np.bool_)
    history = np.zeros((beam, length), np.int64)
    stop = np.asarray(stop_ids if stop_ids is not None else [], np.int64)
    weights = sampling_weights(model)
    cell = sampling_k.CELL_CODES[cfg.cell]
    if model.adaptive is None:
        beam_k.beam_search(cell, weights[:7], weights[7], weights[8], h, c, tokens, scores,
                           lengths, finished, history, stop)
    else:  # no single decoder matrix: the same steps, with the layer's own log-probabilities
        scratch = beam_k.step_buffers(weights, beam, cfg.hidden_size, h.dtype)
        for _ in range(length):
            if beam_k.all_done(scores, finished):
                break
            beam_k.network_step(cell, weights[:7], h, c, tokens, *scratch)
            log_probs = model.adaptive.log_probs(h[-1])
            beam_k.advance(log_probs, h, c, tokens, scores, lengths, finished, history, stop)
    found = [Hypothesis(history[k, :lengths[k]].copy(), float(scores[k]), bool(finished[k]))
             for k in range(beam) if np.isfinite(scores[k])]
    found.sort(key=lambda hyp: -hyp.ranked(length_penalty))
    return found
