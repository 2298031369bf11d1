"""The generation loop: N streams, one token per step, jitted end to end.

Per step and stream: ``network_step``, the pass the beam search (``beam.py``) makes too: the
input token's row of the layer-0 table ``E W_ih0^T`` (V, G*H) (embedding and input projection in
one lookup), then every layer: input product (layers above the first), recurrent product, and the
cell's step (``cell_steps.py``, the same code as training, so the math is written once); then the
decoder logits (V,) and one draw.

Weights keep PyTorch's (rows, inputs) layouts: at batch 1 a product is a dot product per output
row, which reads each weight once, contiguously, with the input vector in L1. That is the whole
cost: a 256x2 LSTM streams ~3 MB of weights per token. On an AMD Zen 4 core that came from L3 at
~85 GB/s (36 us a step); on the Intel machine of 2026-12-02 3 MB exceed the core's 2 MB L2 and
arrive at ~34 GB/s (112 us a step). So the hidden units are split over two threads (``generate``'s
``part``), each streaming the weight rows of its own units, which then stay in its own L2: 31 us
a step there. The threads are plain threads each running the jitted loop to the end, meeting at
spin barriers (``atomics.py``) twice per layer and once per token, ~1 us each; a Numba parallel
region instead costs 70-95 us to launch with the workqueue layer, more than a whole step.
The weights and the state vectors must sit on 32-byte boundaries (the caller's job): 16 bytes
off, the same step takes 43 us.

The cell is passed as its ``Cell`` row, so the loop compiles with that cell's step only.
Randomness comes only from the ``np.random.Generator`` passed in: one uniform per sampled token,
drawn in step-major, stream-minor order, so the ids depend on the seed alone, not on how the steps
are split into calls. Greedy decoding draws nothing.

Drawing one token from a row of logits is ``drawing.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import inline_kernel, kernel
from .atomics import atomic_load, atomic_store
from .cell_steps import forward_step
from .drawing import sample_row


class SamplingWeights(NamedTuple):
    """A model's weights in the layouts the loop reads (built by ``lm/sampler.py``). A thread's
    part (``generate``'s ``part``) holds the rows of its own units, Hp of them, in place of H."""

    table: np.ndarray  # (V, G*H) = E W_ih0^T: the embedding and layer 0's input product in one
    w_ih: np.ndarray  # (L-1, G*H, H) the input weights of the layers above the first
    w_hh: np.ndarray  # (L, G*H, H)
    b: np.ndarray  # (L, G*H) = b_ih + b_hh
    b_ih: np.ndarray  # (L, G*H)
    b_hh: np.ndarray  # (L, G*H)
    peephole: np.ndarray  # (L, 3, H); for the other cells (L, 3, 1), unread
    w_dec: np.ndarray | None  # (V, H) the decoder; None for an adaptive softmax (no single matrix)
    b_dec: np.ndarray | None  # (V,)


@kernel
def matmul_nt(x, w, y):
    """y = x @ w.T for x: (N, D), w: (K, D), y: (N, K), as a dot product per output row.

    One stream reads the rows one at a time (a single sequential stream of weights: measured
    36 us against 44 us for two rows at a time, 256x2 LSTM step); several streams take two rows
    at a time, so each load of an input row feeds two multiply-adds."""
    n_rows, D = x.shape
    K = w.shape[0]
    zero = y.dtype.type(0)
    if n_rows == 1:
        x0, y0 = x[0], y[0]
        for k in range(K):
            wk = w[k]
            s = zero
            for j in range(D):
                s += wk[j] * x0[j]
            y0[k] = s
        return
    for k in range(0, K - 1, 2):
        w0, w1 = w[k], w[k + 1]
        for n in range(n_rows):
            xn = x[n]
            s0 = zero
            s1 = zero
            for j in range(D):
                s0 += w0[j] * xn[j]
                s1 += w1[j] * xn[j]
            y[n, k] = s0
            y[n, k + 1] = s1
    if K % 2:
        wk = w[K - 1]
        for n in range(n_rows):
            xn = x[n]
            s = zero
            for j in range(D):
                s += wk[j] * xn[j]
            y[n, K - 1] = s


@kernel
def _wait(flags, parts, part, k):
    """Publish that ``part`` reached sync point ``k``, then spin until every part has. Returns
    False if one never comes (a wedged thread: the caller reports it instead of hanging)."""
    atomic_store(flags, part, k)
    for other in range(parts):
        spins = 0
        while atomic_load(flags, other) < k:
            spins += 1
            if spins > 4_000_000_000:
                return False
    return True


# Inlined, so it compiles as part of the loop that runs it (generate, beam.feed): a separate
# function took 4 s more to compile cold and ~2% of the sampling speed with 2 threads.
@inline_kernel
def network_step(cell, weights, tokens, h, h_own, c_own, a, r, hn, h_new, c_new, flags, part, k):
    """Feed ``tokens`` (N,) through every layer, for one part's units (``generate``): h (L, N, H)
    the whole state, read by every part, of which this part writes its units u0:u1 at each layer;
    h_own, c_own (L, N, Hp) its own copies of those units of h and c, updated in place; a, r
    (N, G*Hp), hn, h_new, c_new (N, Hp) scratch. The parts, flags.size of them, meet at barriers
    ``k + 1``, ``k + 2``, ... (none for one part). Returns the last barrier's number and whether
    every part reached every barrier."""
    parts = flags.size
    L, n_rows, H = h.shape
    u0 = part * H // parts
    u1 = u0 + h_own.shape[2]
    ok = True
    for n in range(n_rows):
        a[n, :] = weights.table[tokens[n]]
    for layer in range(L):
        if layer > 0:
            matmul_nt(h[layer - 1], weights.w_ih[layer - 1], a)
        matmul_nt(h[layer], weights.w_hh[layer], r)
        forward_step(cell, a, r, weights.b[layer], weights.peephole[layer], weights.b_ih[layer], weights.b_hh[layer],
                     h_own[layer], c_own[layer], hn, h_new, c_new)
        if parts > 1:
            k += 1
            ok = ok and _wait(flags, parts, part, k)  # everyone has read the old h[layer]
        h[layer][:, u0:u1] = h_new
        h_own[layer] = h_new
        if cell.has_cell_state:
            c_own[layer] = c_new
        if parts > 1:
            k += 1
            ok = ok and _wait(flags, parts, part, k)  # h[layer] is whole again
    return k, ok


@kernel
def generate(part, parts, flags, cell, weights, h, c, tokens, forced, out, logits_out, inv_temperature, top_k, top_p,
             greedy, rng):
    """Run F + S steps for N streams, all state updated in place so the next call continues.

    The hidden units are split into ``parts`` contiguous blocks, one per thread, each calling this
    with its ``part`` (0 .. parts-1) and the weight rows of its units (``split_weights``), so each
    thread streams only its share of the weights (a 256x2 LSTM's 3 MB do not fit one core's L2;
    halves do). Threads meet at spin barriers on ``flags`` (parts,) int64, zeroed by the caller:
    after reading a layer's old h, after writing their units of the new one, and after part 0 has
    drawn the next tokens. Part 0 alone runs the decoder and the draws (and owns ``rng``), so the
    ids are those of one thread. ``parts`` = 1 is the plain single-threaded loop.

    cell: a ``Cell``; weights: this part's ``SamplingWeights`` (with the whole decoder, which only
    part 0 reads); h, c: (L, N, H) state (c unused by the GRU and plain RNNs); tokens: (N,) int64,
    the next input of each stream; forced: (N, F) int64, inputs fed after ``tokens`` without
    sampling (priming); out: (N, S) int64, the S sampled ids (-1: logits not finite); logits_out: (S, N, V) to record each
    step's logits (decoder bias included, before the temperature), or (0, N, V) not to. On return
    ``tokens`` holds the last sampled (or forced) ids, not yet fed. Returns False if the threads
    lost each other (see ``_wait``)."""
    w_dec, b_dec = weights.w_dec, weights.b_dec
    L, n_rows, H = h.shape
    u0, u1 = part * H // parts, (part + 1) * H // parts
    Hp = u1 - u0
    V = w_dec.shape[0]
    GHp = weights.w_hh.shape[1]
    dtype = h.dtype
    a = np.empty((n_rows, GHp), dtype)
    r = np.empty((n_rows, GHp), dtype)
    hn = np.empty((n_rows, Hp), dtype)
    h_new = np.empty((n_rows, Hp), dtype)
    c_new = np.empty((n_rows, Hp), dtype)
    h_own = np.empty((L, n_rows, Hp), dtype)  # this part's units of h and c, contiguous
    c_own = np.empty((L, n_rows, Hp), dtype)
    for layer in range(L):
        h_own[layer] = h[layer][:, u0:u1]
        c_own[layer] = c[layer][:, u0:u1]
    logits = np.empty((n_rows, V), dtype)
    e = np.empty(V, dtype)
    cum = np.empty(V, np.float64)
    order = np.empty(V, np.int64)
    chosen = np.empty(V, np.int64)
    F = forced.shape[1]
    S = out.shape[1]
    record = logits_out.shape[0] > 0
    top = h[L - 1]
    k = np.int64(0)  # not a literal 0: network_step would be compiled for its type too (~2 s)
    for step in range(F + S):
        k, ok = network_step(cell, weights, tokens, h, h_own, c_own, a, r, hn, h_new, c_new, flags, part, k)
        if part == 0:
            if step < F:
                for n in range(n_rows):
                    tokens[n] = forced[n, step]
            else:
                s = step - F
                matmul_nt(top, w_dec, logits)
                for n in range(n_rows):
                    row = logits[n]
                    for v in range(V):
                        row[v] += b_dec[v]
                    if record:
                        logits_out[s, n, :] = row
                    token = sample_row(row, inv_temperature, top_k, top_p, greedy, rng, e, cum, order, chosen)
                    out[n, s] = token  # -1 where the logits were not finite: the caller refuses them
                    tokens[n] = max(token, 0)
        if parts > 1:
            k += 1
            ok = ok and _wait(flags, parts, part, k)  # the next tokens are set
        if not ok:
            return False
    for layer in range(L):
        c[layer][:, u0:u1] = c_own[layer]
    return True
