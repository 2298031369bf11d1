"""All parameters of a model in one flat array, all gradients in another.

Each named parameter is a C-contiguous view into the flat buffers, so the optimizer, gradient
clipping and (later) an allreduce each touch one array, and a checkpoint saves one array.
"""

from __future__ import annotations

import numpy as np

# The float precisions a model's parameters can have: float32 to train fast, float64 for gradient checks.
DTYPES = ("float32", "float64")
_ALIGN = 16  # elements: every view starts on a 64-byte boundary (float32), which SIMD loops like
EXTRA_SLOTS = 16  # after the gradient in ``grad_buffer``: loss, token count and flags of a step


class ParamStore:
    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype=np.float32):
        self.shapes = dict(shapes)
        self.dtype = np.dtype(dtype)
        self.offsets: dict[str, int] = {}
        offset = 0
        for name, shape in self.shapes.items():
            self.offsets[name] = offset
            size = int(np.prod(shape))
            offset += -(-size // _ALIGN) * _ALIGN
        self.data = np.zeros(offset, self.dtype)
        # The gradient lives at the head of a slightly longer buffer: a data-parallel step sums
        # gradient, loss and token count across processes in one allreduce of this one array
        # (see distributed.py), with no copy. ``grad`` is the gradient alone.
        self.grad_buffer = np.zeros(offset + EXTRA_SLOTS, self.dtype)
        self.grad = self.grad_buffer[:offset]
        self.params = {n: self.view(self.data, n) for n in self.shapes}
        self.grads = {n: self.view(self.grad, n) for n in self.shapes}

    def view(self, flat: np.ndarray, name: str) -> np.ndarray:
        shape = self.shapes[name]
        start = self.offsets[name]
        return flat[start : start + int(np.prod(shape))].reshape(shape)

    @property
    def size(self) -> int:
        """Number of parameters (without alignment padding)."""
        return sum(int(np.prod(s)) for s in self.shapes.values())

    def __getitem__(self, name: str) -> np.ndarray:
        return self.params[name]

    def names(self):
        return self.shapes.keys()


class StoreBacked:
    """A model whose parameters live in ``self.store`` (a ParamStore): its ``params`` and
    ``grads`` by name, the store's views."""

    store: ParamStore

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.store.params

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return self.store.grads
