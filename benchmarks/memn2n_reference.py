"""A PyTorch reference for charlm's end-to-end memory network language model (lm/memory_model.py;
Sukhbaatar et al. 2015, section 5): the same math, the same parameter names, vectorised over a
batch of examples the way a PyTorch user would write it. The parity test
(tests/lm/models/test_memory_torch_parity.py) checks charlm against it; benchmarks/memn2n_speed.py times it.

    model = TorchMemN2N(V, D, M, K, L)
    load_charlm_params(model, charlm_model.params)
    loss = model(ctx, targets)   # ctx (E, M) ids newest first, -1 empty; targets (E,), < 0 masked
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

QUERY = 0.1  # u_0, as charlm's (the authors' init_hid)


class _Holder(nn.Module):
    """A bare module holding named parameters, so the full names read "memory.A", "hop.H", ..."""

    def __init__(self, **shapes):
        super().__init__()
        for name, shape in shapes.items():
            setattr(self, name, nn.Parameter(torch.empty(shape)))


class TorchMemN2N(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, memory: int, hops: int, linear_units: int | None = None,
                 dtype=torch.float32):
        super().__init__()
        V, D, M = vocab_size, hidden_size, memory
        self.hops = hops
        self.linear_units = hidden_size // 2 if linear_units is None else linear_units
        self.memory = _Holder(A=(V, D), T_A=(M, D), C=(V, D), T_C=(M, D))
        self.hop = _Holder(H=(D, D))
        self.decoder = _Holder(weight=(V, D))
        for p in self.parameters():
            nn.init.normal_(p, 0.0, 0.05)
        self.to(dtype)

    def top_query(self, ctx: torch.Tensor) -> torch.Tensor:
        """u_K (E, D) for memories ctx (E, M) (-1: an empty slot)."""
        mem, L = self.memory, self.linear_units
        valid = ctx >= 0
        ids = ctx.clamp(min=0)  # an empty slot reads row 0, but gets no attention and so no gradient
        m = F.embedding(ids, mem.A) + mem.T_A  # (E, M, D), shared by every hop
        c = F.embedding(ids, mem.C) + mem.T_C
        # A very negative finite logit, not -inf: a completely empty memory then gives a uniform
        # softmax that the mask zeroes (o = 0, finite gradient) instead of 0/0 = NaN.
        fill = torch.finfo(m.dtype).min
        u = m.new_full((ctx.shape[0], m.shape[2]), QUERY)
        # Broadcast products and sums, not torch.bmm: with these shapes bmm is a batch of
        # matrix-vector products forward and of outer products (inner size 1) backward, which
        # CPU batched GEMM does poorly; a whole training step measured 25% faster this way
        # (1 thread, the paper's sizes; einsum lowers to bmm and is as slow).
        for _ in range(self.hops):
            s = (m * u.unsqueeze(1)).sum(2).masked_fill(~valid, fill)  # (E, M): m_j . u
            p = torch.softmax(s, dim=1) * valid
            o = (p.unsqueeze(2) * c).sum(1)  # (E, D): sum_j p_j c_j
            z = torch.addmm(o, u, self.hop.H.t())  # H u + o
            u = torch.cat([z[:, :L], torch.relu(z[:, L:])], dim=1)
        return u

    def forward(self, ctx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the unmasked targets (0 if every target is masked, as charlm)."""
        logits = self.top_query(ctx) @ self.decoder.weight.t()
        targets = targets.masked_fill(targets < 0, -100)
        total = F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")
        return total / (targets >= 0).sum().clamp(min=1)


def load_charlm_params(module: nn.Module, params: dict[str, np.ndarray]) -> None:
    """Copy charlm's named numpy parameters into ``module`` (same names, shapes; its dtype)."""
    own = dict(module.named_parameters())
    assert set(own) == set(params), (sorted(own), sorted(params))
    with torch.no_grad():
        for name, array in params.items():
            own[name].copy_(torch.from_numpy(np.ascontiguousarray(array)))


def window_contexts(x: np.ndarray, carried: np.ndarray, resets=()) -> tuple[np.ndarray, np.ndarray]:
    """Every example's memory in a window, independently of charlm's kernel: (ctx (T*N, M), the
    new carried state (N, M)). Example e = t*N + n remembers x[t, n], x[t-1, n], ... back to the
    start of its document (``resets``: (t, rows) where one begins), then, when no document began
    in the window before it, the filled prefix of carried[n]; newest first, -1 past the end."""
    T, N = x.shape
    M = carried.shape[1]
    starts = np.zeros((T, N), bool)
    for t, rows in resets:
        starts[t, rows] = True
    ctx = np.full((T * N, M), -1, np.int64)
    new_carried = np.array(carried, np.int64, copy=True)
    for n in range(N):
        filled = int(np.argmin(np.append(carried[n] >= 0, False)))  # up to the first empty slot
        history = list(carried[n, :filled][::-1])  # oldest first
        for t in range(T):
            if starts[t, n]:
                history = []
            history.append(int(x[t, n]))
            recent = history[::-1][:M]
            ctx[t * N + n, :len(recent)] = recent
        if T:
            new_carried[n] = ctx[(T - 1) * N + n]
    return ctx, new_carried
