"""Optimizers and gradient clipping over a :class:`ParamStore`'s flat buffers.

Update rules follow torch.optim (SGD, Adam, RMSprop with their defaults) so that a step can be
checked against PyTorch and a user's learning rates carry over.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .kernels import optim as optim_k
from .params import ParamStore

# Consecutive non-finite steps tolerated (each skipped) before training stops: language models
# and classifiers alike.
MAX_BAD_STEPS = 3


def global_norm(grad: np.ndarray) -> float:
    """L2 norm of the whole gradient (np.dot: accumulated in the gradient's own precision)."""
    return math.sqrt(float(np.dot(grad, grad)))


def clip_grad_norm(grad: np.ndarray, max_norm: float) -> float:
    """Scale the gradient in place so its global L2 norm is at most ``max_norm`` (as
    torch.nn.utils.clip_grad_norm_: by max_norm / (norm + 1e-6)). Returns the norm before clipping."""
    norm = global_norm(grad)
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        grad *= grad.dtype.type(scale)
    return norm


def clip_grad_value(grad: np.ndarray, limit: float) -> None:
    """Clamp every gradient entry to [-limit, limit] in place."""
    np.clip(grad, -limit, limit, out=grad)


class Optimizer:
    name = ""

    def __init__(self, store: ParamStore, lr: float):
        if not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"learning rate must be a positive number, got {lr}")
        self.store = store
        self.lr = float(lr)
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        self._update(self.store.data, self.store.grad)

    def _update(self, param, grad) -> None:
        raise NotImplementedError

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to checkpoint (moments); scalars go in :meth:`state_meta`."""
        return {}

    def state_meta(self) -> dict:
        return {"name": self.name, "lr": self.lr, "steps": self.steps}

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.lr = float(meta["lr"])
        self.steps = int(meta["steps"])
        for name, target in self.state_arrays().items():
            target[...] = arrays[name]


class SGD(Optimizer):
    name = "sgd"

    def _update(self, param, grad):
        optim_k.sgd_update(param, grad, self.lr)


class Adam(Optimizer):
    name = "adam"

    def __init__(self, store: ParamStore, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(store, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = np.zeros_like(store.data)
        self.v = np.zeros_like(store.data)

    def _update(self, param, grad):
        optim_k.adam_update(param, grad, self.m, self.v, self.lr, self.beta1, self.beta2, self.eps, self.steps)

    def state_arrays(self):
        return {"m": self.m, "v": self.v}


class RMSprop(Optimizer):
    name = "rmsprop"

    def __init__(self, store: ParamStore, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__(store, lr)
        self.alpha, self.eps = alpha, eps
        self.sq = np.zeros_like(store.data)

    def _update(self, param, grad):
        optim_k.rmsprop_update(param, grad, self.sq, self.lr, self.alpha, self.eps)

    def state_arrays(self):
        return {"sq": self.sq}


class Adagrad(Optimizer):
    """Socher et al. (2013) and Tai et al. (2015) trained their tree models with it."""

    name = "adagrad"

    def __init__(self, store: ParamStore, lr: float = 1e-2, eps: float = 1e-10):
        super().__init__(store, lr)
        self.eps = eps
        self.total = np.zeros_like(store.data)

    def _update(self, param, grad):
        optim_k.adagrad_update(param, grad, self.total, self.lr, self.eps)

    def state_arrays(self):
        return {"total": self.total}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, RMSprop, Adagrad)}


def make_optimizer(name: str, store: ParamStore, lr: float) -> Optimizer:
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}") from None
    return cls(store, lr)
