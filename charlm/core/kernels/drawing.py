"""One token from a row of logits, jitted: temperature, top-k, top-p, greedy.

Sampling a row of logits l (V,) at temperature T: p ~ exp((l - max l) / T); top-k keeps the k
largest (ties: lower id first); top-p then keeps the smallest prefix of those, in decreasing
order, whose mass is at least top_p of theirs (Holtzman et al. 2020, as Hugging Face applies
top-k then top-p); the draw inverts the cumulative sum. No full sort of the vocabulary: top-k
inserts into a short sorted list (k < 64) or partitions, top-p alone bisects for the threshold.
A row holding a logit that is not finite (inf, NaN: weights that overflow) is no distribution:
the draw is NON_FINITE (-1), for the caller to refuse.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .activations import exp

NON_FINITE = -1  # sample_row's answer to logits that are not all finite


@kernel
def unnormalised_probabilities(logits, top, t, e):
    """e[v] = exp((logits[v] - top) * t), top = max logit, t = 1/T; returns their sum (float64).
    A difference of 0 stays 0 even when t overflows to inf (0 * inf would be NaN)."""
    zero = logits.dtype.type(0)
    total = 0.0
    for v in range(logits.size):
        d = logits[v] - top
        p = exp(d * t if d < zero else zero)
        e[v] = p
        total += p
    return total


@kernel
def insert_top_k(logits, K, order):
    """The ids of the K largest logits into order[:K], in decreasing order of logit, ties by lower
    id: one pass, inserting into a sorted list (O(V + insertions * K), for small K)."""
    count = 0
    for v in range(logits.size):
        x = logits[v]
        if count == K and not x > logits[order[K - 1]]:
            continue
        i = count if count < K else K - 1  # a free slot, or the slot of the one pushed out
        while i > 0 and logits[order[i - 1]] < x:
            order[i] = order[i - 1]
            i -= 1
        order[i] = v
        if count < K:
            count += 1
    return count


@kernel
def sort_candidates(logits, chosen, count, order):
    """order[:count] = chosen[:count] (ids in increasing order) sorted by decreasing logit; the
    stable sort keeps ties by lower id."""
    keys = np.empty(count, logits.dtype)
    for i in range(count):
        keys[i] = -logits[chosen[i]]
    rank = np.argsort(keys, kind="mergesort")
    for i in range(count):
        order[i] = chosen[rank[i]]


@kernel
def sample_nucleus(logits, top, t, top_p, rng, e, best):
    """Top-p over the whole vocabulary without sorting it (a near-flat distribution over 10,000
    words would put thousands of tokens in the nucleus). The nucleus is every token whose logit
    is above a threshold lam, plus the first ties at lam by id: lam is the largest logit with
    mass(logits >= lam) >= top_p of the total, found by bisection over the logits' range with
    one vectorised pass per halving. The draw then walks the nucleus in id order."""
    V = logits.size
    zero = logits.dtype.type(0)
    half = logits.dtype.type(0.5)
    target = top_p * unnormalised_probabilities(logits, top, t, e)
    lo = logits[0]
    for v in range(1, V):
        lo = min(lo, logits[v])
    hi = top
    above = 0.0  # the mass strictly above lo once the bisection ends
    for v in range(V):
        above += e[v] if logits[v] >= hi else zero
    if above >= target:  # the top logit (with its ties) suffices
        lo = hi
        above = 0.0
    else:
        # Invariant: mass(>= lo) >= target > mass(>= hi) = above. It ends with lo and hi adjacent
        # floats, so lo is a logit: the threshold.
        for _ in range(300):
            mid = lo + (hi - lo) * half
            if not (lo < mid < hi):
                break
            mass = 0.0
            for v in range(V):
                mass += e[v] if logits[v] >= mid else zero
            if mass >= target:
                lo = mid
            else:
                hi = mid
                above = mass
    # Ties at lo join in id order while the mass is short of the target.
    kept = above
    ties = 0
    for v in range(V):
        if logits[v] == lo and kept < target:
            kept += e[v]
            ties += 1
    u = rng.random() * kept
    acc = 0.0
    for v in range(V):
        x = logits[v]
        if x > lo or (x == lo and ties > 0):
            if x == lo:
                ties -= 1
            acc += e[v]
            if u < acc:
                return v
    return best  # NaN logits


@kernel
def kth_smallest(values, k):
    """The k-th smallest (0-based) of ``values`` (no NaN), rearranging them: quickselect with
    three-way partitions, linear on ties. Written out because Numba's np.partition costs ~5 s to
    compile, a quarter of the first ``charlm sample``."""
    lo, hi = 0, values.size - 1
    while lo < hi:
        a, b, c = values[lo], values[(lo + hi) // 2], values[hi]
        pivot = max(min(a, b), min(max(a, b), c))  # the median of the three
        lt, i, gt = lo, lo, hi
        while i <= gt:
            x = values[i]
            if x < pivot:
                values[i], values[lt] = values[lt], x
                lt += 1
                i += 1
            elif x > pivot:
                values[i], values[gt] = values[gt], x
                gt -= 1
            else:
                i += 1
        if k < lt:
            hi = lt - 1
        elif k > gt:
            lo = gt + 1
        else:
            return pivot
    return values[lo]


@kernel
def sample_row(logits, inv_temperature, top_k, top_p, greedy, rng, e, cum, order, chosen):
    """One draw from the logits (V,) as described in the module docstring. Scratch: e (V,) of the
    logits' dtype, cum (V,) float64, order and chosen (V,) int64. Returns the token id, or NON_FINITE."""
    V = logits.size
    best = 0
    top = logits[0]
    # Comparisons, which _jit's fastmath (no nnan/ninf) keeps: reassoc folds x - x to 0.
    finite = -np.inf < top < np.inf
    for v in range(1, V):
        x = logits[v]
        finite &= -np.inf < x < np.inf
        if x > top:  # strict: the lowest id wins a tie, as np.argmax
            top = x
            best = v
    if not finite:
        return -1  # NON_FINITE (a literal: jitted code reads no module globals)
    if greedy:
        return best
    zero = logits.dtype.type(0)
    t = logits.dtype.type(inv_temperature)
    K = V if top_k <= 0 or top_k >= V else top_k
    if K == V and top_p >= 1.0:
        # The whole vocabulary in id order: one vectorised pass, then the walk.
        u = rng.random() * unnormalised_probabilities(logits, top, t, e)
        acc = 0.0
        for v in range(V):
            acc += e[v]
            if u < acc:
                return v
        return best  # only when the logits held NaN: never an id out of range
    if K == V:
        return sample_nucleus(logits, top, t, top_p, rng, e, best)
    # Top-k: the candidates in decreasing order of logit (the temperature keeps the order), ties by id.
    if K < 64:
        count = insert_top_k(logits, K, order)
    else:
        for v in range(V):  # NaN last, as np.partition puts it
            x = -logits[v]
            cum[v] = x if x == x else np.inf
        kth = kth_smallest(cum, K - 1)
        count = 0
        for v in range(V):  # strictly above the k-th value, then ties at it by id
            if -logits[v] < kth:
                chosen[count] = v
                count += 1
        for v in range(V):
            if count < K and -logits[v] == kth:
                chosen[count] = v
                count += 1
        count = min(count, K)
        sort_candidates(logits, chosen, count, order)
    if count == 0:  # NaN logits
        return best
    acc = 0.0
    for i in range(count):
        d = logits[order[i]] - top
        acc += exp(d * t if d < zero else zero)
        cum[i] = acc
    if top_p < 1.0:
        bound = top_p * acc  # the nucleus of the top k, renormalised
        for i in range(count):
            if cum[i] >= bound:
                count = i + 1
                break
    u = rng.random() * cum[count - 1]
    for i in range(count):
        if u < cum[i]:
            return order[i]
    return best
