"""Generating token ids from a trained model: options, priming and chunked streaming around the
jitted loop in ``kernels/sampling.py``. Works on ids only; the caller encodes and decodes text.

    sampler = Sampler(model, temperature=0.8, top_k=40, seed=1)
    sampler.prime(vocab.encode("ROMEO:"))       # or sampler.reset(start_token=newline_id)
    for ids in sampler.generate(1000, num_samples=2):   # (N, k) chunks: 1 token first, then larger
        ...decode and print ids[n] for each stream n...

The state carried from one call to the next is the recurrent state of every layer plus, per
stream, the next input token (the last one sampled or primed, not yet fed), so chunks continue
one another exactly: the ids do not depend on how a run is split into calls.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterator

import numpy as np

from ...errors import ConfigError, UnusableWeights
from .sampling_config import SamplingConfig, check_int
from ..models.kinds import kind_of
from ...core.kernels import drawing as drawing_k
from ...core.kernels import sampling as sampling_k
from ...core.parts import run_parts, thread_parts


def _aligned_empty(shape: tuple, dtype, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array starting on an ``align``-byte boundary. The weights
    and the state vectors they multiply both need it: with the state 16 bytes off a 32-byte
    boundary a 256x2 LSTM step takes 43 us instead of 37 (numpy only promises 16)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start : start + size].view(dtype).reshape(shape)


def _copy(array: np.ndarray) -> np.ndarray:
    out = _aligned_empty(array.shape, array.dtype)
    out[...] = array
    return out


def _zeros(shape: tuple, dtype) -> np.ndarray:
    out = _aligned_empty(shape, dtype)
    out[...] = 0
    return out


def sampling_weights(model) -> sampling_k.SamplingWeights:
    """The model's weights in the layouts the generation loop reads, computed once (the decoder
    None for an adaptive softmax). Every array is a fresh contiguous copy: later changes to the
    model do not reach a sampler built before them."""
    cfg, p = model.config, model.params
    L, H, V = cfg.layers, cfg.hidden_size, cfg.vocab_size
    GH = model.cell.gates * H
    dtype = model.dtype

    def stack(name: str, layers: range, shape: tuple) -> np.ndarray:
        out = _aligned_empty((len(layers), *shape), dtype)
        for i, layer in enumerate(layers):
            out[i] = p[f"rnn.{name}_l{layer}"]
        return out

    table = _aligned_empty((V, GH), dtype)
    np.matmul(p["encoder.weight"], p["rnn.weight_ih_l0"].T, out=table)
    b_ih = stack("bias_ih", range(L), (GH,))
    b_hh = stack("bias_hh", range(L), (GH,))
    if model.cell.peepholes:
        peephole = stack("weight_peephole", range(L), (3, H))
    else:
        peephole = np.zeros((L, 3, 1), dtype)
    adaptive = model.adaptive is not None  # no single decoder matrix
    return sampling_k.SamplingWeights(
        table=table,
        w_ih=stack("weight_ih", range(1, L), (GH, H)),
        w_hh=stack("weight_hh", range(L), (GH, H)),
        b=_copy(b_ih + b_hh),
        b_ih=b_ih,
        b_hh=b_hh,
        peephole=peephole,
        w_dec=None if adaptive else _copy(model.decoder_weight()),
        b_dec=None if adaptive else _copy(p["decoder.bias"]),
    )


# Below this many units a step is too short to pay for meeting another thread at every layer.
MIN_UNITS_TO_SPLIT = 128


def split_weights(weights: sampling_k.SamplingWeights, gates: int, hidden_size: int, parts: int,
                  has_peephole: bool) -> list[sampling_k.SamplingWeights]:
    """Each part's rows of the recurrent weights (``kernels.sampling.generate``): part p owns the
    units [p*H//parts, (p+1)*H//parts) and takes their rows of every gate block, so its products
    and its gate kernel see an ordinary cell of that many units. Every part keeps the whole decoder."""
    if parts == 1:
        return [weights]
    w, H = weights, hidden_size
    out = []
    for part in range(parts):
        u0, u1 = part * H // parts, (part + 1) * H // parts
        rows = np.concatenate([np.arange(g * H + u0, g * H + u1) for g in range(gates)])
        out.append(w._replace(
            table=_copy(w.table[:, rows]), w_ih=_copy(w.w_ih[:, rows, :]), w_hh=_copy(w.w_hh[:, rows, :]),
            b=_copy(w.b[:, rows]), b_ih=_copy(w.b_ih[:, rows]), b_hh=_copy(w.b_hh[:, rows]),
            peephole=_copy(w.peephole[:, :, u0:u1]) if has_peephole else w.peephole,
        ))  # fmt: skip
    return out


def _refuse_non_finite_draws(ids: np.ndarray) -> None:
    """A draw from logits that were not finite (weights that overflow) is no token: refused."""
    if (ids == drawing_k.NON_FINITE).any():
        raise UnusableWeights()


def _check_ids(ids, V: int, what: str) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ConfigError(f"{what} must be a 1-D sequence of token ids")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= V):
        bad = int(array[(array < 0) | (array >= V)][0])
        raise ConfigError(f"{what} holds token id {bad}, outside this model's vocabulary of {V}")
    return array


class Sampler:
    """Draws token ids from ``model`` (any LanguageModel), N streams at a time, as ``config`` (a
    SamplingConfig: temperature, top-k, top-p, greedy, seed) says, with ``settings`` given as
    keywords over it (``Sampler(model, temperature=0.8, seed=1)``); ``start_token``: the first
    input when there is no prime text.

    temperature: divides the logits (> 0; lower is more conservative); top_k: keep only the k most
    likely tokens (0: all); top_p: keep the smallest set of most likely tokens holding this much
    probability (1: all); greedy: always the most likely token (a temperature, top-k, top-p or
    seed with it is refused: nothing is drawn); seed: same seed, same ids (None: fresh entropy).
    """

    def __init__(self, model, config: SamplingConfig | None = None, *, start_token: int = 0, **settings):
        config = replace(config or SamplingConfig(), **settings)  # checks every setting
        V = model.config.vocab_size
        temperature, top_k, top_p, greedy, seed = config.temperature, config.top_k, config.top_p, config.greedy, config.seed
        if top_k >= V:
            top_k = 0  # k at or above the vocabulary size keeps every token, as 0 does
        self.model = model
        self.V = V
        self.temperature, self.top_k, self.top_p, self.greedy = temperature, top_k, top_p, bool(greedy)
        self.rng = np.random.default_rng(seed)
        # The jitted loop reads recurrent layers and one decoder matrix. An adaptive softmax (no
        # single decoder) and the memory network (no recurrent layers) sample in Python
        # (_run_through_model), one step and one draw at a time, carrying the model's own state.
        self._weights = sampling_weights(model) if model.adaptive is None and kind_of(model.config).runs_jitted_loops else None
        self._split: dict[int, list] = {}  # parts -> each part's SamplingWeights, built on first use
        self.reset(start_token)

    # ----------------------------------------------------------------- state
    def reset(self, start_token: int = 0) -> None:
        """Zero state, one stream, ``start_token`` as the first input."""
        start = _check_ids([check_int("start token", start_token, 0)], self.V, "the start token")
        cfg = self.model.config
        if self._weights is not None:
            self._h = _zeros((cfg.layers, 1, cfg.hidden_size), self.model.dtype)
            self._c = _zeros(self._h.shape, self.model.dtype)
        else:
            self._carried = self.model.initial_state(1)
        self._tokens = start

    def prime(self, ids) -> None:
        """Start from zero state and feed ``ids`` (at least one): the last id becomes the next input,
        the others warm the state."""
        ids = _check_ids(ids, self.V, "the prime")
        if ids.size == 0:
            raise ConfigError("the prime text must hold at least one token")
        self.reset(int(ids[0]))
        self._run(ids[1:].reshape(1, -1), np.empty((1, 0), np.int64), None)

    @property
    def num_streams(self) -> int:
        return self._tokens.size

    @property
    def state(self) -> list[tuple]:
        """A copy of the carried state in the model's format: per layer (h, c) or (h,), (N, H), for
        a recurrent model; [(memory,)], (N, M) token ids, for the memory network."""
        if self._weights is None:
            return [tuple(part.copy() for part in layer) for layer in self._carried]
        has_c = self.model.cell.has_cell_state
        return [(h.copy(), c.copy()) if has_c else (h.copy(),) for h, c in zip(self._h, self._c)]

    @property
    def next_tokens(self) -> np.ndarray:
        """(N,) the input each stream feeds next (the last id sampled or primed)."""
        return self._tokens.copy()

    def _streams(self, num_samples: int) -> None:
        N = self.num_streams
        if N == num_samples:
            return
        if N != 1:
            raise ConfigError(f"this sampler carries {N} streams; generate {N} samples or reset/prime it first")
        # One primed stream becomes num_samples identical ones; the draws then set them apart.
        if self._weights is None:
            self._carried = [tuple(np.repeat(part, num_samples, axis=0) for part in layer) for layer in self._carried]
        else:
            self._h = _copy(np.repeat(self._h, num_samples, axis=1))
            self._c = _copy(np.repeat(self._c, num_samples, axis=1))
        self._tokens = np.repeat(self._tokens, num_samples)

    def _parts(self) -> int:
        """Threads to split the hidden units over: the thread setting (``set_threads``), at most
        2 (measured; see ``kernels/sampling.py``), 1 for small layers, and never more than the
        cores this process may use (threads spinning at a barrier must not share a core)."""
        if self.model.config.hidden_size < MIN_UNITS_TO_SPLIT:
            return 1
        return thread_parts(limit=2)

    def _run(self, forced: np.ndarray, out: np.ndarray, logits: np.ndarray | None) -> None:
        if self._weights is None:
            return self._run_through_model(forced, out, logits)
        if logits is None:
            logits = np.empty((0, out.shape[0], self.V), self.model.dtype)
        parts = self._parts()
        if parts not in self._split:
            cfg = self.model.config
            self._split[parts] = split_weights(self._weights, self.model.cell.gates, cfg.hidden_size, parts,
                                               self.model.cell.peepholes)
        flags = np.zeros(parts, np.int64)

        def part(p: int) -> bool:
            return sampling_k.generate(
                p, parts, flags, self.model.cell, self._split[parts][p], self._h, self._c, self._tokens,
                forced, out, logits, 1.0 / self.temperature, self.top_k, self.top_p, self.greedy, self.rng,
            )  # fmt: skip

        if not all(run_parts(part, parts)):
            raise RuntimeError("the sampling threads lost each other (one never reached a barrier)")
        _refuse_non_finite_draws(out)

    def _run_through_model(self, forced: np.ndarray, out: np.ndarray, logits: np.ndarray | None) -> None:
        """The jitted loop's contract, stepped through ``model.step_logits`` (whose rows, for an
        adaptive softmax, are log-probabilities: the same distribution, and the same temperature,
        top-k and top-p as logits) and drawn by the same ``sample_row``."""
        model, V = self.model, self.V
        e, cum = np.empty(V, model.dtype), np.empty(V, np.float64)
        order, chosen = np.empty(V, np.int64), np.empty(V, np.int64)
        state, tokens = self.state, self._tokens.copy()
        if forced.shape[1]:  # priming needs no output layer: the forced inputs go through as one window
            window = np.concatenate((tokens[None, :], forced[:, :-1].T))
            _, state = model.outputs(window, state)
            tokens = forced[:, -1].copy()
        for step in range(out.shape[1]):
            rows, state = model.step_logits(tokens, state)
            for n in range(tokens.size):
                row = np.ascontiguousarray(rows[n])
                if logits is not None:
                    logits[step, n] = row
                tokens[n] = drawing_k.sample_row(row, 1.0 / self.temperature, self.top_k, self.top_p, self.greedy,
                                                 self.rng, e, cum, order, chosen)
                out[n, step] = tokens[n]
            _refuse_non_finite_draws(out[:, step])
        self._carried = state
        self._tokens = tokens

    # ----------------------------------------------------------------- sampling
    def run(self, steps: int, num_samples: int = 1, *, record_logits: bool = False):
        """Sample ``steps`` tokens for each of ``num_samples`` streams in one call.

        Returns ids (N, steps) int64 and, with record_logits, each step's logits (steps, N, V)
        (decoder bias included, before the temperature), else None."""
        steps = check_int("--length", steps, 1)
        num_samples = check_int("--num-samples", num_samples, 1)
        self._streams(num_samples)
        out = np.empty((num_samples, steps), np.int64)
        logits = np.empty((steps, num_samples, self.V), self.model.dtype) if record_logits else None
        self._run(np.empty((num_samples, 0), np.int64), out, logits)
        return out, logits

    def generate(
        self,
        length: int,
        num_samples: int = 1,
        *,
        first_chunk: int = 1,
        chunk_seconds: float = 0.05,
        max_chunk: int = 4096,
    ) -> Iterator[np.ndarray]:
        """Yield ``length`` tokens per stream as chunks of ids (N, k), k >= 1, together ``length``
        columns. The first chunk holds ``first_chunk`` tokens, so the first character shows at
        once; later chunks grow (at most 4x each) to take about ``chunk_seconds`` each, so the
        per-call overhead stays negligible while the text still streams. Stopping early (closing
        the iterator) wastes at most one chunk."""
        length = check_int("--length", length, 1)
        num_samples = check_int("--num-samples", num_samples, 1)
        first_chunk = check_int("first chunk", first_chunk, 1)
        max_chunk = check_int("max chunk", max_chunk, 1)
        self._streams(num_samples)
        return self._chunks(length, num_samples, first_chunk, chunk_seconds, max_chunk)

    def _chunks(self, length, num_samples, first_chunk, chunk_seconds, max_chunk) -> Iterator[np.ndarray]:
        done, k = 0, min(first_chunk, length)
        no_forced = np.empty((num_samples, 0), np.int64)
        while done < length:
            out = np.empty((num_samples, k), np.int64)
            t0 = time.perf_counter()
            self._run(no_forced, out, None)
            elapsed = time.perf_counter() - t0
            done += k
            yield out
            per_token = max(elapsed / k, 1e-9)
            k = max(1, min(4 * k, max_chunk, int(chunk_seconds / per_token), length - done))
