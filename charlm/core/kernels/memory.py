"""Kernels of the end-to-end memory network (Sukhbaatar et al. 2015): every example of a window
at once, each with its own memory of the M tokens before its target.

A memory is (E, M) token ids, slot 0 the newest token; an example's first ``n_valid`` slots hold
tokens, the rest are empty (the start of a text, or of a document): an empty slot gets no
attention. The hop's product with H and the output layer are BLAS products in the model; these
kernels are the parts BLAS has no shape for: the per-example attention, forward and backward,
and the gathers and scatters between the embedding tables and the memories.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .activations import exp


@kernel
def window_memories(carried, x, starts, ctx, n_valid, new_carried):
    """The memory of every example of a window.

    carried: (N, M) ids each stream remembers from before the window (newest first, -1 empty);
    x: (T, N) the window's inputs; starts: (T, N) True where a document begins (nothing before
    it is remembered). Example e = t * N + n remembers x[t, n], x[t - 1, n], ... then the carried
    ids: ctx (E, M) (-1 past n_valid[e]). new_carried (N, M): what each stream carries on."""
    T, N = x.shape
    M = carried.shape[1]
    for n in range(N):
        remembered = 0
        while remembered < M and carried[n, remembered] >= 0:
            remembered += 1
        first = 0
        for t in range(T):
            if starts[t, n]:
                remembered = 0
                first = t
            e = t * N + n
            k = 0
            s = t
            while k < M and s >= first:
                ctx[e, k] = x[s, n]
                k += 1
                s -= 1
            j = 0
            while k < M and j < remembered:
                ctx[e, k] = carried[n, j]
                k += 1
                j += 1
            n_valid[e] = k
            for i in range(k, M):
                ctx[e, i] = -1
        if T > 0:
            new_carried[n, :] = ctx[(T - 1) * N + n]
        else:
            new_carried[n, :] = carried[n]


@kernel
def gather_memory(table, temporal, ctx, n_valid, out):
    """out[e, j] = table[ctx[e, j]] + temporal[j] for the filled slots, 0 for the empty ones."""
    E, M, D = out.shape
    for e in range(E):
        for j in range(M):
            if j < n_valid[e]:
                row = table[ctx[e, j]]
                for d in range(D):
                    out[e, j, d] = row[d] + temporal[j, d]
            else:
                out[e, j, :] = 0


@kernel
def scatter_memory(weights, vectors, ctx, n_valid, dtable, dtemporal):
    """Add every hop's gradient of the memories into their embedding and temporal tables: slot j
    of example e gets sum_k weights[k, e, j] vectors[k, e] (K, E, M and K, E, D). For the output
    memories c the weights are the attention and the vectors the hops' output gradients; for the
    input memories m, the attention logits' gradients and the hops' queries. Summing the hops
    first, then scattering once, never writes an (E, M, D) gradient."""
    K, E, M = weights.shape
    D = vectors.shape[2]
    g = np.empty(D, dtable.dtype)
    for e in range(E):
        for j in range(n_valid[e]):
            g[:] = 0
            for k in range(K):
                w = weights[k, e, j]
                for d in range(D):
                    g[d] += w * vectors[k, e, d]
            row = dtable[ctx[e, j]]
            for d in range(D):
                row[d] += g[d]
                dtemporal[j, d] += g[d]


@kernel
def attention_forward(mem, out, n_valid, u, p, o):
    """One hop for every example: p[e] = softmax_j(mem[e, j] . u[e]) over the filled slots (0 on
    the empty ones), o[e] = sum_j p[e, j] out[e, j]. An empty memory reads as o = 0."""
    E, M, D = mem.shape
    zero = mem.dtype.type(0)
    for e in range(E):
        n = n_valid[e]
        top = -np.inf
        for j in range(n):
            s = zero
            for d in range(D):
                s += mem[e, j, d] * u[e, d]
            p[e, j] = s
            top = max(top, s)
        total = zero
        for j in range(n):
            w = exp(p[e, j] - top)
            p[e, j] = w
            total += w
        for j in range(n, M):
            p[e, j] = 0
        o[e, :] = 0
        for j in range(n):
            w = p[e, j] / total
            p[e, j] = w
            for d in range(D):
                o[e, d] += w * out[e, j, d]


@kernel
def attention_backward(mem, out, n_valid, u, p, do, ds, du):
    """The hop's attention backward, given do (E, D) = dL/do: ds (E, M) = dL/d(the attention
    logits) (0 on empty slots), and du (E, D) += their share of the gradient of the hop's query
    u. The memories' own gradients are left to scatter_memory."""
    E, M, D = mem.shape
    zero = mem.dtype.type(0)
    for e in range(E):
        n = n_valid[e]
        mean = zero
        for j in range(n):
            g = zero
            for d in range(D):
                g += do[e, d] * out[e, j, d]
            ds[e, j] = g
            mean += p[e, j] * g
        for j in range(n):
            ds[e, j] = p[e, j] * (ds[e, j] - mean)
            w = ds[e, j]
            for d in range(D):
                du[e, d] += w * mem[e, j, d]
        for j in range(n, M):
            ds[e, j] = 0
