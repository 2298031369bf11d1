"""Kernels of the end-to-end memory network (Sukhbaatar et al. 2015): every example of a window
at once, each with its own memory of the M tokens before its target.

A memory is (E, M) token ids, slot 0 the newest token; an example's first ``n_valid`` slots hold
tokens, the rest are empty (the start of a text, or of a document): an empty slot gets no
attention. The output layer (and H's gradient) are BLAS products in the model.

The hops run one example at a time, all K of them, forward and then backward: an example's two
memories (M x D each, 60 KB at the paper's size) then stay in the core's cache through every hop,
and its slots' gradients are summed over the hops and scattered into the tables once. Hop by hop
over all examples at once, every hop streamed the (E, M, D) memories through main memory instead:
a training step was 12% slower (benchmarks/memn2n_speed.py). What remains is mostly the random
rows of the tables, read and updated once per slot.

Threads (``lm/models/memory.py``): the hops of disjoint runs of examples (``first``, ``last``),
then the scatter into the tables by token id (``part`` of ``parts``), so no two threads write a
row. On 2 cores of an Intel Xeon (2026-12-06) a training step took 35 ms against 53 on one
thread, with the output layer split the same way.
"""

from __future__ import annotations

import numpy as np

from ._jit import inline_kernel, kernel
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


@inline_kernel
def _gather(table, temporal, ids, n, out):
    """out[j] = table[ids[j]] + temporal[j] for the n filled slots."""
    D = table.shape[1]
    for j in range(n):
        row = table[ids[j]]
        for d in range(D):
            out[j, d] = row[d] + temporal[j, d]


@kernel
def hops_forward(A, TA, C, TC, H, ctx, n_valid, linear_units, u, p, first, last):
    """Every hop for examples first .. last - 1. u: (K + 1, E, D) with u[0] the constant query,
    gets u_1 .. u_K; p: (K, E, M) gets each hop's attention (0 on empty slots). Per hop:
    p = softmax_j(m_j . u), z = H u + sum_j p_j c_j, the next u = z with a ReLU past the first
    ``linear_units`` units. Examples are independent: threads may run disjoint ranges at once."""
    K, E, M = p.shape
    D = A.shape[1]
    dtype = A.dtype
    zero, lowest = dtype.type(0), dtype.type(-np.inf)
    mem, out, o = np.empty((M, D), dtype), np.empty((M, D), dtype), np.empty(D, dtype)
    for e in range(first, last):
        n = n_valid[e]
        _gather(A, TA, ctx[e], n, mem)
        _gather(C, TC, ctx[e], n, out)
        for k in range(K):
            q, w = u[k, e], p[k, e]
            top = lowest
            for j in range(n):
                s = zero
                for d in range(D):
                    s += mem[j, d] * q[d]
                w[j] = s
                top = max(top, s)
            total = zero
            for j in range(n):
                w[j] = exp(w[j] - top)
                total += w[j]
            w[n:] = 0
            o[:] = 0
            for j in range(n):
                w[j] /= total
                for d in range(D):
                    o[d] += w[j] * out[j, d]
            z = u[k + 1, e]
            for i in range(D):
                s = o[i]
                for d in range(D):
                    s += H[i, d] * q[d]
                z[i] = s if i < linear_units or s > 0 else zero


@kernel
def hops_backward(A, TA, C, TC, H, ctx, n_valid, linear_units, u, p, du, dz, ds, first, last):
    """The hops backward for examples first .. last - 1, given du (E, D) = dL/du_K: dz (K, E, D)
    gets each hop's dL/dz (which is also dL/d(its read-out o); H's gradient is then one product in
    the model) and ds (K, E, M) the gradient of each hop's attention logits. The memories'
    gradients follow from these in ``scatter_memory_grads``. Threads may run disjoint ranges."""
    K, E, M = p.shape
    D = A.shape[1]
    dtype = A.dtype
    zero = dtype.type(0)
    mem, out = np.empty((M, D), dtype), np.empty((M, D), dtype)
    g, below = np.empty(D, dtype), np.empty(D, dtype)
    for e in range(first, last):
        n = n_valid[e]
        ids = ctx[e]
        _gather(A, TA, ids, n, mem)
        _gather(C, TC, ids, n, out)
        g[:] = du[e]
        for k in range(K - 1, -1, -1):
            z, w, dsk = u[k + 1, e], p[k, e], ds[k, e]
            for i in range(linear_units, D):
                if z[i] <= 0:  # the ReLU was off
                    g[i] = 0
            dz[k, e] = g
            below[:] = 0  # dL/du_{k-1}: through H ...
            for i in range(D):
                for d in range(D):
                    below[d] += g[i] * H[i, d]
            mean = zero  # ... and through the attention
            for j in range(n):
                s = zero
                for d in range(D):
                    s += g[d] * out[j, d]
                dsk[j] = s
                mean += w[j] * s
            for j in range(n):
                dsk[j] = w[j] * (dsk[j] - mean)
                for d in range(D):
                    below[d] += dsk[j] * mem[j, d]
            g[:] = below


@inline_kernel
def _add_weighted_sum(weights, vectors, e, j, target, temporal, row):
    """row = sum_k weights[k, e, j] * vectors[k, e], added into target and temporal (rows of D).
    The whole arrays and indices, not views: a view's strides are unknown to the compiler, and
    the loops then ran 2.6 times slower."""
    row[:] = 0
    for k in range(weights.shape[0]):
        for d in range(row.shape[0]):
            row[d] += weights[k, e, j] * vectors[k, e, d]
    for d in range(row.shape[0]):
        target[d] += row[d]
        temporal[d] += row[d]


@kernel
def scatter_memory_grads(ctx, n_valid, u, p, dz, ds, part, parts, dA, dTA, dC, dTC):
    """Add the memories' gradients into the tables: slot j of example e holds m_j = A[id] + T_A[j]
    and c_j = C[id] + T_C[j], whose gradients are sums over the hops, sum_k ds_kj u_{k-1} and
    sum_k p_kj dz_k: formed once per slot, from small arrays, and added straight into the rows.

    This call takes the slots whose token id is ``part`` modulo ``parts``, so threads running
    the other parts never write the same row of dA or dC, and each row sums its slots in the
    same order however many parts there are. dTA and dTC are this part's own (M, D) sums."""
    row = np.empty(dA.shape[1], dA.dtype)
    for e in range(p.shape[1]):
        ids = ctx[e]
        for j in range(n_valid[e]):
            if ids[j] % parts != part:
                continue
            _add_weighted_sum(ds, u, e, j, dA[ids[j]], dTA[j], row)
            _add_weighted_sum(p, dz, e, j, dC[ids[j]], dTC[j], row)
