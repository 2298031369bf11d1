"""The generation loop: N streams, one token per step, jitted end to end.

Per step and stream: the input token's row of the layer-0 table ``E W_ih0^T`` (V, G*H) (embedding
and input projection in one lookup), then every layer: input product (layers above the first),
recurrent product, and the cell's existing step kernel for the nonlinearities (the same code as
training, so the math is written once); then the decoder logits (V,) and one draw.

Weights keep PyTorch's (rows, inputs) layouts: at batch 1 a product is a dot product per output
row, which reads each weight once, contiguously, with the input vector in L1. That is the whole
cost (a 256x2 LSTM streams ~3 MB of weights per token from L3), so the loop is single-threaded:
a Numba parallel region costs ~85 us to launch on these machines, about twice a whole step.

Cells are chosen by an integer code (CELL_CODES) inside the loop. Randomness comes only from the
``np.random.Generator`` passed in: one uniform per sampled token, drawn in step-major, stream-minor
order, so the ids depend on the seed alone, not on how the steps are split into calls. Greedy
decoding draws nothing.

Sampling a row of logits l (V,) at temperature T: p ~ exp((l - max l) / T); top-k keeps the k
largest (ties: lower id first); top-p then keeps the smallest prefix of those, in decreasing
order, whose mass is at least top_p of theirs (Holtzman et al. 2020, as Hugging Face applies
top-k then top-p); the draw inverts the cumulative sum.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .activations import exp
from .gru import gru_forward_step
from .lstm import coupled_forward_step, lstm_forward_step, peephole_forward_step
from .rnn import rnn_relu_forward_step, rnn_tanh_forward_step

# The cell codes the loop dispatches on (plain constants for callers; the loop uses the literals).
CELL_CODES = {"lstm": 0, "lstm-peephole": 1, "lstm-coupled": 2, "gru": 3, "rnn-tanh": 4, "rnn-relu": 5}


@kernel
def matmul_nt(x, w, y):
    """y = x @ w.T for x: (N, D), w: (K, D), y: (N, K): a dot product per output row, two rows at
    a time so each load of x feeds two multiply-adds."""
    n_rows, D = x.shape
    K = w.shape[0]
    zero = y.dtype.type(0)
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
        w0 = w[K - 1]
        for n in range(n_rows):
            xn = x[n]
            s0 = zero
            for j in range(D):
                s0 += w0[j] * xn[j]
            y[n, K - 1] = s0


@kernel
def advance(cell, weights, h, c, tokens, a, r, hn, h_new, c_new):
    """Feed tokens (N,) through every layer, updating h, c: (L, N, H) in place.

    weights: (table (V, G*H), w_ih (L-1, G*H, H), w_hh (L, G*H, H), b = b_ih + b_hh (L, G*H),
    b_ih, b_hh (L, G*H), peephole (L, 3, H) (any H' for other cells), w_dec, b_dec).
    a, r: (N, G*H), hn, h_new, c_new: (N, H) scratch."""
    table, w_ih, w_hh, b, b_ih, b_hh, peep = weights[0], weights[1], weights[2], weights[3], weights[4], weights[5], weights[6]
    L, n_rows, H = h.shape
    for n in range(n_rows):
        a[n, :] = table[tokens[n]]
    for layer in range(L):
        if layer > 0:
            matmul_nt(h[layer - 1], w_ih[layer - 1], a)
        matmul_nt(h[layer], w_hh[layer], r)
        hl, bl = h[layer], b[layer]
        if cell == 0:
            lstm_forward_step(a, r, bl, c[layer], h_new, c_new)
        elif cell == 1:
            peephole_forward_step(a, r, bl, peep[layer], c[layer], h_new, c_new)
        elif cell == 2:
            coupled_forward_step(a, r, bl, c[layer], h_new, c_new)
        elif cell == 3:
            gru_forward_step(a, r, bl[: 2 * H], b_ih[layer][2 * H :], b_hh[layer][2 * H :], hl, hn, h_new)
        elif cell == 4:
            rnn_tanh_forward_step(a, r, bl, h_new)
        else:
            rnn_relu_forward_step(a, r, bl, h_new)
        hl[:, :] = h_new
        if cell <= 2:
            c[layer][:, :] = c_new


@kernel
def sample_row(logits, inv_temperature, top_k, top_p, greedy, rng, e, cum):
    """One draw from the logits (V,) as described in the module docstring. e: (V,) scratch of the
    logits' dtype, cum: (V,) float64 scratch. Returns the token id."""
    V = logits.size
    best = 0
    m = logits[0]
    for v in range(1, V):
        if logits[v] > m:  # strict: the lowest id wins a tie, as np.argmax
            m = logits[v]
            best = v
    if greedy:
        return best
    zero = logits.dtype.type(0)
    t = logits.dtype.type(inv_temperature)
    K = V if top_k <= 0 or top_k >= V else top_k
    if K == V and top_p >= 1.0:
        # The whole vocabulary, in id order: one vectorised pass, then the walk.
        total = 0.0
        for v in range(V):
            d = logits[v] - m
            # d = 0 stays 0 even when 1/T overflows to inf (0 * inf would be NaN).
            p = exp(d * t if d < zero else zero)
            e[v] = p
            total += p
        u = rng.random() * total
        acc = 0.0
        for v in range(V):
            acc += e[v]
            if u < acc:
                return v
        return best  # only when the logits held NaN: never an id out of range
    # Candidates in decreasing order of logit, ties by id (the temperature keeps the order).
    if K < V:
        kth = np.partition(-logits, K - 1)[K - 1]
        chosen = np.empty(K, np.int64)
        count = 0
        for v in range(V):  # strictly above the k-th value, then ties at it by id
            if -logits[v] < kth:
                chosen[count] = v
                count += 1
        for v in range(V):
            if count < K and -logits[v] == kth:
                chosen[count] = v
                count += 1
        if count < K:  # NaN logits
            return best
        keys = np.empty(K, logits.dtype)
        for i in range(K):
            keys[i] = -logits[chosen[i]]
        order = chosen[np.argsort(keys, kind="mergesort")]
    else:
        order = np.argsort(-logits, kind="mergesort")
    acc = 0.0
    for i in range(K):
        d = logits[order[i]] - m
        acc += exp(d * t if d < zero else zero)
        cum[i] = acc
    if top_p < 1.0:
        bound = top_p * acc
        for i in range(K):
            if cum[i] >= bound:
                K = i + 1
                break
    u = rng.random() * cum[K - 1]
    for i in range(K):
        if u < cum[i]:
            return order[i]
    return best


@kernel
def generate(cell, weights, h, c, tokens, forced, out, logits_out, inv_temperature, top_k, top_p, greedy, rng):
    """Run F + S steps for N streams, all state updated in place so the next call continues.

    cell: a CELL_CODES value; weights: as in ``advance``; h, c: (L, N, H) state (c unused by the
    GRU and plain RNNs); tokens: (N,) int64, the next input of each stream; forced: (N, F) int64,
    inputs fed after ``tokens`` without sampling (priming); out: (N, S) int64, the S sampled ids;
    logits_out: (S, N, V) to record each step's logits (decoder bias included, before the
    temperature), or (0, N, V) not to. On return ``tokens`` holds the last sampled (or forced) ids,
    not yet fed."""
    L, n_rows, H = h.shape
    w_dec, b_dec = weights[7], weights[8]
    V = w_dec.shape[0]
    GH = weights[2].shape[1]
    dtype = h.dtype
    a = np.empty((n_rows, GH), dtype)
    r = np.empty((n_rows, GH), dtype)
    hn = np.empty((n_rows, H), dtype)
    h_new = np.empty((n_rows, H), dtype)
    c_new = np.empty((n_rows, H), dtype)
    logits = np.empty((n_rows, V), dtype)
    e = np.empty(V, dtype)
    cum = np.empty(V, np.float64)
    F = forced.shape[1]
    S = out.shape[1]
    record = logits_out.shape[0] > 0
    top = h[L - 1]
    for step in range(F + S):
        advance(cell, weights, h, c, tokens, a, r, hn, h_new, c_new)
        if step < F:
            for n in range(n_rows):
                tokens[n] = forced[n, step]
            continue
        s = step - F
        matmul_nt(top, w_dec, logits)
        for n in range(n_rows):
            row = logits[n]
            for v in range(V):
                row[v] += b_dec[v]
            if record:
                logits_out[s, n, :] = row
            token = sample_row(row, inv_temperature, top_k, top_p, greedy, rng, e, cum)
            out[n, s] = token
            tokens[n] = token
