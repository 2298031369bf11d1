"""The end-to-end memory network as a language model (Sukhbaatar, Szlam, Weston & Fergus 2015,
"End-To-End Memory Networks", section 5), beside the recurrent model and with the calls of
``protocol.LanguageModel``, so the trainer, evaluation, sampling, checkpoints, resume and MPI
treat both alike; what differs is its entry in the table of kinds (``memory_kind.py``).

There is no hidden state: each target is predicted from the M tokens before it. Token i of that
memory is stored as m_i = A x_i + T_A(i) and read as c_i = C x_i + T_C(i) (i = 0 the newest). A
constant query u_0 = 0.1 goes through K hops, u_k = H u_{k-1} + sum_i softmax_i(u_{k-1} . m_i) c_i,
with A, C, T_A, T_C and H shared by every hop (the paper's layer-wise tying) and a ReLU on the
units past the first ``linear_units``; then a softmax over the vocabulary of W u_K. Like the
authors' code (facebookarchive/MemNN, MemN2N-lang-model) there are no biases.

The carried "state" is what a stream remembers: (N, M) token ids, newest first, -1 for empty
slots. It holds no gradient, so a window's examples are independent: core/kernels/memory.py runs
every hop of one example before the next one's.
"""

from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from ..data.batching import count_scored
from ...core.kernels import memory as memory_k
from ...core.kernels import softmax as softmax_k
from ...core.params import ParamStore, StoreBacked
from ...core.parts import blas_per_part, part_bounds, run_parts, thread_parts

QUERY = 0.1  # u_0, the constant query (the authors' init_hid)
INIT_STD = 0.05  # every weight starts N(0, 0.05^2) (the authors' init_std)
# Examples per thread below which a window's hops run on one thread: one example's hops take
# ~50-150 us at the paper's size, a helper thread's hand-off a few us.
MIN_EXAMPLES_PER_THREAD = 8


def memory_param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    V, D, M = config.vocab_size, config.hidden_size, config.memory
    return {"memory.A": (V, D), "memory.T_A": (M, D), "memory.C": (V, D), "memory.T_C": (M, D),
            "hop.H": (D, D), "decoder.weight": (V, D)}


def starts_mask(shape: tuple[int, int], resets) -> np.ndarray:
    """(T, N) True where a row starts a document (``resets``: ((t, rows), ...), as the trainer's)."""
    starts = np.zeros(shape, np.bool_)
    for t, rows in resets:
        starts[t, rows] = True
    return starts


class MemoryLanguageModel(StoreBacked):
    adaptive = None  # the output layer is always the full softmax
    cell = None  # no recurrent cell

    def __init__(self, config: ModelConfig, dtype=np.float32, seed: int = 0):
        self.config = config
        self.store = ParamStore(memory_param_shapes(config), dtype)
        self.dtype = self.store.dtype
        self.initialize(np.random.default_rng(seed))
        self._zero_bias = np.zeros(config.vocab_size, self.dtype)
        self._buffers: dict[tuple, np.ndarray] = {}

    def initialize(self, rng: np.random.Generator) -> None:
        for array in self.params.values():
            array[...] = rng.normal(0.0, INIT_STD, array.shape)

    def refresh(self) -> None:
        """Nothing is derived from the parameters between steps."""

    def initial_state(self, batch_size: int) -> list[tuple]:
        return [(np.full((batch_size, self.config.memory), -1, np.int64),)]

    def state_before(self, tokens: np.ndarray, offsets: np.ndarray, starts: np.ndarray) -> list[tuple]:
        """The memory each stream starts with when it begins at ``offsets`` of ``tokens``: the M
        tokens before it (newest first), none from before the document it begins in (``starts``:
        sorted token indices where documents begin). Evaluation cut into streams then scores
        every token with the memory one stream reading the whole text would have."""
        offsets, starts = np.asarray(offsets, np.int64), np.asarray(starts, np.int64)
        # the last document start at or before each offset; 0 before the first one
        document_start = np.concatenate(([0], starts))[np.searchsorted(starts, offsets, side="right")]
        reads = offsets[:, None] - 1 - np.arange(self.config.memory)  # (N, M), newest first
        remembered = reads >= document_start[:, None]
        memory = np.full(reads.shape, -1, np.int64)  # not np.where: -1 beside uint16 ids would wrap
        memory[remembered] = tokens[reads[remembered]]
        return [(memory,)]

    @staticmethod
    def _parts(examples: int) -> int:
        """Threads to split a window's examples over (``core/parts.py``)."""
        return thread_parts(limit=max(1, examples // MIN_EXAMPLES_PER_THREAD))

    def _buf(self, name: str, shape: tuple, dtype=None) -> np.ndarray:
        dtype = np.dtype(dtype or self.dtype)
        key = (name, shape, dtype)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(shape, dtype)
        return buf

    # ----------------------------------------------------------------- forward
    def _window(self, x: np.ndarray, state: list[tuple], resets=()):
        """Every example's memory, and the buffers its hops fill: (saved, new state)."""
        T, N = x.shape
        E = T * N
        cfg = self.config
        M, D, K = cfg.memory, cfg.hidden_size, cfg.hops
        (carried,) = state[0]
        ctx = self._buf("ctx", (E, M), np.int64)
        n_valid = self._buf("n_valid", (E,), np.int64)
        new_carried = np.empty((N, M), np.int64)
        memory_k.window_memories(np.ascontiguousarray(carried, np.int64), np.ascontiguousarray(x, np.int64),
                                 starts_mask((T, N), resets), ctx, n_valid, new_carried)
        queries = self._buf("u", (K + 1, E, D))  # u_0 .. u_K
        queries[0] = QUERY
        saved = {"ctx": ctx, "n_valid": n_valid, "u": queries, "p": self._buf("p", (K, E, M))}
        return saved, [(new_carried,)]

    def _hops_forward(self, s: dict, first: int, last: int) -> None:
        p = self.params
        memory_k.hops_forward(p["memory.A"], p["memory.T_A"], p["memory.C"], p["memory.T_C"], p["hop.H"], s["ctx"],
                              s["n_valid"], self.config.linear_units, s["u"], s["p"], first, last)

    def _forward(self, x: np.ndarray, state: list[tuple], resets=()):
        """Every example's top query u_K (E, D), the new state, and what the backward needs."""
        s, new_state = self._window(x, state, resets)
        E, parts = x.size, self._parts(x.size)
        with blas_per_part(parts):
            run_parts(lambda part: self._hops_forward(s, *part_bounds(E, part, parts)), parts)
        return s["u"][self.config.hops], new_state, s

    # ----------------------------------------------------------------- public API
    def train_step(self, x: np.ndarray, y: np.ndarray, state: list[tuple], rng=None, resets=()):
        """Forward and backward over one window x, y (T, N) (a negative target is masked); the
        gradient of the mean cross-entropy lands in ``store.grad``. Returns (mean loss, new state).
        ``rng`` is unused: the model has no dropout.

        With several threads the step runs in two phases, each split over them (``core/parts``):
        first each thread takes a run of examples through the hops, the output layer and back
        (the examples are independent); then each takes a share of the tables' rows, for the
        gradients summed over every example: the output layer's by word, the memories' by the
        token ids they scatter into. The matrix products inside run on one BLAS thread each: a
        BLAS thread left spinning beside the other part's kernel took its core (measured: no gain
        from a second thread for the hops alone)."""
        cfg, p, g = self.config, self.params, self.grads
        E, V, D, K, M = x.size, cfg.vocab_size, cfg.hidden_size, cfg.hops, cfg.memory
        s, new_state = self._window(x, state, resets)
        targets = np.ascontiguousarray(y.reshape(E), dtype=np.int32)
        scale = 1.0 / max(count_scored(targets), 1)
        W, top = p["decoder.weight"], s["u"][K]
        logits, du = self._buf("logits", (E, V)), self._buf("du", (E, D))
        dz = self._buf("dz", (K, E, D))  # each hop's dL/dz
        ds = self._buf("ds", (K, E, M))  # each hop's dL/d(attention logits)
        parts = self._parts(E)
        dbias = self._buf("dbias", (parts, V))  # no bias: the softmax kernel's by-product, unused
        temporal = self._buf("temporal", (2, parts, M, D))  # each part's share of dT_A, dT_C

        def examples(part: int) -> float:
            first, last = part_bounds(E, part, parts)
            self._hops_forward(s, first, last)
            np.matmul(top[first:last], W.T, out=logits[first:last])
            loss = softmax_k.softmax_cross_entropy(logits[first:last], self._zero_bias, targets[first:last], scale,
                                                   dbias[part])
            np.matmul(logits[first:last], W, out=du[first:last])
            memory_k.hops_backward(p["memory.A"], p["memory.T_A"], p["memory.C"], p["memory.T_C"], p["hop.H"],
                                   s["ctx"], s["n_valid"], cfg.linear_units, s["u"], s["p"], du, dz, ds, first, last)
            return loss

        def tables(part: int) -> None:
            first, last = part_bounds(V, part, parts)
            np.matmul(logits[:, first:last].T, top, out=g["decoder.weight"][first:last])
            g["memory.A"][part::parts] = 0  # the rows this part's scatter owns
            g["memory.C"][part::parts] = 0
            temporal[:, part] = 0
            memory_k.scatter_memory_grads(s["ctx"], s["n_valid"], s["u"], s["p"], dz, ds, part, parts, g["memory.A"],
                                          temporal[0, part], g["memory.C"], temporal[1, part])

        dbias[:] = 0
        with blas_per_part(parts):
            loss_sum = sum(run_parts(examples, parts))
            run_parts(tables, parts)
            # z_k = H u_{k-1} + o: H's gradient sums dz_k u_{k-1}^T over hops and examples, one product.
            np.matmul(dz.reshape(K * E, D).T, s["u"][:K].reshape(K * E, D), out=g["hop.H"])
        np.sum(temporal[0], axis=0, out=g["memory.T_A"])
        np.sum(temporal[1], axis=0, out=g["memory.T_C"])
        return loss_sum * scale, new_state

    def loss(self, x: np.ndarray, y: np.ndarray, state: list[tuple], resets=()):
        """Forward only. Returns (summed loss in nats over the unmasked targets, new state)."""
        top, new_state, _ = self._forward(x, state, resets)
        logits = self._buf("logits", (x.size, self.config.vocab_size))
        np.matmul(top, self.params["decoder.weight"].T, out=logits)
        targets = np.ascontiguousarray(y.reshape(x.size), dtype=np.int32)
        return softmax_k.cross_entropy(logits, self._zero_bias, targets), new_state

    def outputs(self, x: np.ndarray, state: list[tuple]):
        """Forward only: every position's top query (T, N, D) (a fresh array) and the new state."""
        top, new_state, _ = self._forward(x, state)
        return top.reshape(*x.shape, -1).copy(), new_state

    def step_logits(self, tokens: np.ndarray, state: list[tuple]):
        """One step for N streams: tokens (N,) -> logits (N, V) (a fresh array), new state."""
        top, new_state, _ = self._forward(np.asarray(tokens).reshape(1, -1), state)
        return top @ self.params["decoder.weight"].T, new_state

    def inspect_window(self, x: np.ndarray, state: list[tuple]):
        """Forward only over x (T, N): the logits (T*N, V), the new state, each hop's query
        u_1 .. u_K as a "layer" with one value, "h" (T, N, D) (what charlm inspect shows of a
        recurrent model's layers), and what only a memory network has, per position: each hop's
        "attention" (T*N, K, M) over the memory and the "memory" token ids (T*N, M) (-1: empty)."""
        top, new_state, s = self._forward(x, state)
        hops = [{"h": s["u"][k + 1].reshape(*x.shape, -1).copy()} for k in range(self.config.hops)]
        extras = {"attention": s["p"].transpose(1, 0, 2).copy(), "memory": s["ctx"].copy()}
        return top @ self.params["decoder.weight"].T, new_state, hops, extras
