"""Adaptive softmax (Grave et al. 2017, "Efficient softmax approximation for GPUs"): a head over
the most frequent words plus one entry per tail cluster, and for each cluster a softmax over its
words computed from a smaller projection of the hidden state.

With cutoffs c_0 < c_1 < ... < c_k = V (word ids sorted by frequency, as charlm's word vocabularies
are), words below c_0 are the head's shortlist; cluster i holds ids [c_i, c_{i+1}) and its vectors
are H // div^(i+1) wide. p(w) = p_head(w) for a shortlist word and p_head(cluster i) p_i(w) for a
word of cluster i: a proper distribution over the whole vocabulary, so its perplexity is comparable
with a full softmax's. In training, a cluster's softmax is computed only for the rows whose target
is in it: that is where the FLOPs are saved.

Parameters and layouts are PyTorch's ``nn.AdaptiveLogSoftmaxWithLoss(H, V, cutoffs, div_value,
head_bias=False)``: ``head.weight`` (c_0 + k, H), ``tail.{i}.0.weight`` (H // div^(i+1), H) and
``tail.{i}.1.weight`` (c_{i+1} - c_i, H // div^(i+1)), so weights can be compared one to one.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..settings import option_name


def _kernels():
    """The softmax kernels, imported on first use: the configuration checks cutoffs with
    ``check_cutoffs`` and must not load Numba (``--help`` stays fast)."""
    from .kernels import softmax

    return softmax


def parse_cutoffs(text: str) -> list[int]:
    """``--cutoffs 2000,10000`` as a list of ints (checked further by :func:`check_cutoffs`)."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--cutoffs must be integers separated by commas, e.g. 2000,10000, got {text!r}") from None


def check_cutoffs(cutoffs, vocab_size: int | None, hidden_size: int, div: float) -> list[int]:
    """The cutoffs as a list of ints, or a ConfigError naming what is wrong with them
    (``vocab_size`` None: before the vocabulary is known, everything else)."""
    if isinstance(cutoffs, (int, bool)) or not all(isinstance(c, int) and not isinstance(c, bool) for c in cutoffs):
        raise ConfigError(f"{option_name('cutoffs')} must be integers, got {cutoffs!r}")
    cutoffs = [int(c) for c in cutoffs]
    if not cutoffs:
        raise ConfigError(f"{option_name('cutoffs')} needs at least one value (the head's shortlist size)")
    if any(b <= a for a, b in zip(cutoffs, cutoffs[1:])) or cutoffs[0] < 1:
        raise ConfigError(f"{option_name('cutoffs')} must be positive and increasing, got {','.join(map(str, cutoffs))}")
    if vocab_size is not None and cutoffs[-1] >= vocab_size:
        raise ConfigError(f"{option_name('cutoffs')} must stay below the vocabulary size ({vocab_size:,} words), "
                          f"got {','.join(map(str, cutoffs))}")
    if not div >= 1:
        raise ConfigError(f"{option_name('tail_div')} must be at least 1, got {div}")
    if int(hidden_size // div ** len(cutoffs)) < 1:
        raise ConfigError(f"{option_name('tail_div')} {div:g} leaves the last cluster's projection of {hidden_size} units empty")
    return cutoffs


def param_shapes(hidden_size: int, vocab_size: int, cutoffs: list[int], div: float) -> dict[str, tuple[int, int]]:
    bounds = list(cutoffs) + [vocab_size]
    shapes = {"head.weight": (cutoffs[0] + len(cutoffs), hidden_size)}
    for i in range(len(cutoffs)):
        width = int(hidden_size // div ** (i + 1))
        shapes[f"tail.{i}.0.weight"] = (width, hidden_size)
        shapes[f"tail.{i}.1.weight"] = (bounds[i + 1] - bounds[i], width)
    return shapes


class AdaptiveSoftmax:
    """The output layer over ``params``/``grads`` (dicts by the names of :func:`param_shapes`)."""

    def __init__(self, vocab_size: int, cutoffs: list[int], params: dict, grads: dict):
        self._k = _kernels()
        self.vocab_size = vocab_size
        self.cutoffs = list(cutoffs)
        self.bounds = self.cutoffs + [vocab_size]
        self.params, self.grads = params, grads
        self.shortlist = self.cutoffs[0]
        self.head_size = self.shortlist + len(self.cutoffs)

    @property
    def clusters(self) -> int:
        return len(self.cutoffs)

    def _head_targets(self, targets: np.ndarray) -> np.ndarray:
        """A shortlist word is its own head class, a tail word its cluster's entry; a masked
        (negative) target stays masked."""
        cluster = np.searchsorted(np.asarray(self.cutoffs), targets, side="right")  # 0: shortlist
        return np.where(targets < self.shortlist, targets, self.shortlist + cluster - 1).astype(np.int32)

    def _cluster_rows(self, targets: np.ndarray, i: int) -> np.ndarray:
        return np.flatnonzero((targets >= self.bounds[i]) & (targets < self.bounds[i + 1]))

    def loss_and_grad(self, x: np.ndarray, targets: np.ndarray, grad_scale: float,
                      dx: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """x (M, H) hidden states, targets (M,) ids (a negative one is masked). Writes the gradient
        of ``grad_scale * summed loss`` into ``grads`` and the input's into ``dx`` (M, H) (a new
        array if None); returns (summed loss in nats, dx)."""
        p, g = self.params, self.grads
        dtype = x.dtype
        head_targets = self._head_targets(targets)
        logits = x @ p["head.weight"].T
        loss = self._k.softmax_cross_entropy(logits, np.zeros(self.head_size, dtype), head_targets, grad_scale,
                                               np.zeros(self.head_size, dtype))
        np.matmul(logits.T, x, out=g["head.weight"])
        dx = np.matmul(logits, p["head.weight"], out=dx)
        for i in range(self.clusters):
            project, out = p[f"tail.{i}.0.weight"], p[f"tail.{i}.1.weight"]
            rows = self._cluster_rows(targets, i)
            if rows.size == 0:
                g[f"tail.{i}.0.weight"][...] = 0
                g[f"tail.{i}.1.weight"][...] = 0
                continue
            xr = x[rows]
            hidden = xr @ project.T
            tail = hidden @ out.T
            size = out.shape[0]
            loss += self._k.softmax_cross_entropy(tail, np.zeros(size, dtype), (targets[rows] - self.bounds[i]).astype(np.int32),
                                                    grad_scale, np.zeros(size, dtype))
            np.matmul(tail.T, hidden, out=g[f"tail.{i}.1.weight"])
            dhidden = tail @ out
            np.matmul(dhidden.T, xr, out=g[f"tail.{i}.0.weight"])
            dx[rows] += dhidden @ project
        return loss, dx

    def loss(self, x: np.ndarray, targets: np.ndarray) -> float:
        """Summed loss in nats over the unmasked targets, forward only."""
        p, dtype = self.params, x.dtype
        head_targets = self._head_targets(targets)
        total = self._k.cross_entropy(x @ p["head.weight"].T, np.zeros(self.head_size, dtype), head_targets)
        for i in range(self.clusters):
            rows = self._cluster_rows(targets, i)
            if rows.size:
                tail = (x[rows] @ p[f"tail.{i}.0.weight"].T) @ p[f"tail.{i}.1.weight"].T
                total += self._k.cross_entropy(tail, np.zeros(tail.shape[1], dtype),
                                                 (targets[rows] - self.bounds[i]).astype(np.int32))
        return total

    def log_probs(self, x: np.ndarray) -> np.ndarray:
        """(M, V) log-probabilities of every word (for sampling, beam search and inspection: a
        softmax of them gives the probabilities back exactly)."""
        p = self.params
        out = np.empty((x.shape[0], self.vocab_size), x.dtype)
        head = _log_softmax(x @ p["head.weight"].T)
        out[:, :self.shortlist] = head[:, :self.shortlist]
        for i in range(self.clusters):
            tail = _log_softmax((x @ p[f"tail.{i}.0.weight"].T) @ p[f"tail.{i}.1.weight"].T)
            out[:, self.bounds[i]:self.bounds[i + 1]] = tail + head[:, self.shortlist + i, None]
        return out


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
