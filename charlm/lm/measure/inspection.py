"""What a language model finds surprising in a text, and what its hidden units do while reading it
(``charlm inspect``; Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent
Networks").

The text is read as one stream, the state carried from window to window, so token t's
surprisal is exactly its share of ``charlm eval``'s loss with one stream. Position t holds what
the model computed after reading token t: its activations, and its predictions for token t+1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError, DataError
from ...store.checkpoint import refuse_non_finite

LN2 = float(np.log(2.0))


@dataclass
class Trace:
    tokens: np.ndarray  # (n,) token ids of the text
    surprisal: np.ndarray  # (n,) -log2 p(token t | tokens before it); NaN for the first token
    top_ids: np.ndarray  # (n, k) the k most likely next tokens after reading token t, best first
    top_probs: np.ndarray  # (n, k) their probabilities
    layers: list[dict[str, np.ndarray]]  # per layer: "h", "c" (LSTMs), the gates by letter; each (n, H)
    # The memory network's: each hop's attention (n, K, M) after reading token t, over the memory
    # (n, M) token ids (slot 0 = token t itself; -1 empty). None for a recurrent model.
    attention: np.ndarray | None = None
    memory: np.ndarray | None = None


def trace(model, tokens: np.ndarray, *, top_k: int = 5, seq_len: int = 100) -> Trace:
    """Forward over ``tokens`` (1-D ids, at least 2) in one stream, keeping every position's
    surprisal, top-k predictions and every layer's activations."""
    if tokens.size < 2:
        raise DataError(f"nothing to inspect: {tokens.size} token(s), at least 2 are needed")
    n, V = tokens.size, model.config.vocab_size
    k = max(1, min(top_k, V))
    log_p_next = np.empty(n)  # log p of token t+1 under the prediction made at t
    top_ids = np.empty((n, k), np.int64)
    top_probs = np.empty((n, k))
    parts: list[list[dict]] = []
    extras: dict[str, list[np.ndarray]] = {}
    state = model.initial_state(1)
    for start in range(0, n, seq_len):
        x = np.ascontiguousarray(tokens[start:start + seq_len].reshape(-1, 1))
        logits, state, acts, window_extras = model.inspect_window(x, state)
        for name, value in window_extras.items():
            extras.setdefault(name, []).append(value)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        rows = np.arange(x.shape[0])
        following = tokens[start + 1:start + 1 + x.shape[0]]
        log_p_next[start:start + following.size] = log_probs[rows[:following.size], following]
        # The k best without sorting the whole vocabulary: partition, then sort those k.
        best = np.argpartition(-log_probs, k - 1, axis=1)[:, :k] if k < V else np.tile(np.arange(V), (x.shape[0], 1))
        best = np.take_along_axis(best, np.argsort(-np.take_along_axis(log_probs, best, axis=1), axis=1, kind="stable"),
                                  axis=1)
        top_ids[start:start + x.shape[0]] = best
        top_probs[start:start + x.shape[0]] = np.exp(np.take_along_axis(log_probs, best, axis=1))
        parts.append([{name: value[:, 0, :] for name, value in layer.items()} for layer in acts])
    surprisal = np.full(n, np.nan)
    surprisal[1:] = -log_p_next[:-1] / LN2
    layers = [{name: np.concatenate([p[index][name] for p in parts]) for name in parts[0][index]}
              for index in range(len(parts[0]))]
    extra = {name: np.concatenate(values) for name, values in extras.items()}
    # What overflowing weights compute is no figure (UnusableWeights); the empty memory slots (-1) are finite.
    refuse_non_finite(surprisal[1:], top_probs, *(v for layer in layers for v in layer.values()), *extra.values())
    return Trace(tokens, surprisal, top_ids, top_probs, layers, extra.get("attention"), extra.get("memory"))


def token_spans(vocab, tokens: np.ndarray) -> tuple[str, list[str], np.ndarray]:
    """The text as shown: each token's string (a word followed by its space; ``<eos>`` as a
    newline) and where each one starts and ends in the joined text, (n, 2)."""
    if vocab.level == "word":
        pieces = ["\n" if int(t) == vocab.eos_id else vocab.tokens[int(t)] + " " for t in tokens]
    else:
        pieces = [vocab.tokens[int(t)] for t in tokens]
    ends = np.cumsum([len(p) for p in pieces])
    spans = np.stack([ends - np.array([len(p) for p in pieces]), ends], axis=1)
    return "".join(pieces), pieces, spans


def pattern_indicator(text: str, spans: np.ndarray, pattern: str) -> np.ndarray:
    """1 for each token whose span overlaps a match of the regular expression, else 0."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"--find {pattern!r} is not a valid regular expression: {exc}") from None
    inside = np.zeros(len(text) + 1, np.int64)
    for match in regex.finditer(text):
        if match.end() > match.start():
            inside[match.start()] += 1
            inside[match.end()] -= 1
    matched = np.cumsum(inside[:-1]) > 0  # character i lies in a match
    counts = np.concatenate([[0], np.cumsum(matched)])  # matched characters before position i
    return (counts[spans[:, 1]] - counts[spans[:, 0]] > 0).astype(np.float64)


@dataclass
class UnitMatch:
    layer: int
    unit: int
    kind: str  # "h" or "c"
    correlation: float  # Pearson's r between the unit's value and the pattern's indicator


def rank_units(tr: Trace, indicator: np.ndarray, top: int = 10) -> list[UnitMatch]:
    """Every unit's h (and c), ranked by |Pearson's r| with the indicator over the text."""
    if indicator.min() == indicator.max():
        raise DataError("--find: the pattern matches " + ("every token" if indicator[0] else "nothing")
                        + " of the text, so no unit can be ranked by it")
    target = (indicator - indicator.mean()) / indicator.std()
    found = []
    for index, layer in enumerate(tr.layers):
        for kind in ("h", "c"):
            if kind not in layer:
                continue
            values = layer[kind].astype(np.float64)
            spread = values.std(axis=0)
            r = np.where(spread > 1e-12, ((values - values.mean(axis=0)) * target[:, None]).mean(axis=0)
                         / np.maximum(spread, 1e-12), 0.0)
            found += [UnitMatch(index, int(j), kind, float(r[j])) for j in range(r.size)]
    found.sort(key=lambda m: -abs(m.correlation))
    return found[:top]


def parse_unit(spec: str, layers: int, hidden: int) -> tuple[int, int]:
    """``L:J`` (both counted from 0) -> (L, J), checked against the model."""
    parts = spec.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--unit must be LAYER:UNIT (two whole numbers from 0, e.g. 0:17), got {spec!r}")
    layer, unit = (int(p) for p in parts)
    if layer >= layers:
        raise ConfigError(f"--unit {spec}: layer {layer} is out of range (the model has layers 0..{layers - 1})")
    if unit >= hidden:
        raise ConfigError(f"--unit {spec}: unit {unit} is out of range (each layer has units 0..{hidden - 1})")
    return layer, unit
