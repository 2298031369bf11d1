"""A bidirectional recurrent layer over a padded batch of variable-length sequences, any cell.

Two :class:`charlm.core.recurrent.RecurrentLayer` objects, each with its own parameters and its own
workspace: the forward direction reads the batch as it is, the reverse direction reads every
sequence back to front within its own length (see ``padding.py`` for why no padding leaks into
either). Parameters use ``torch.nn.LSTM/GRU/RNN(bidirectional=True)``'s names and layouts
(``weight_ih_l{k}``, ``weight_ih_l{k}_reverse``, ...), so weights compare with PyTorch one to one.

Unlike the language model's layers, this one owns its input projection ``a = x W_ih^T``:
``forward`` takes x (T, N, D) and ``backward`` returns dx (T, N, D) and writes dW_ih itself.
Initial states are zero and nothing flows back into them.
"""

from __future__ import annotations

import numpy as np

from ..core.kernels import tensor as tensor_k
from ..core.params import ParamStore
from ..core.recurrent import Cell, RecurrentLayer, layer_param_shapes
from .padding import PaddedBatch

DIRECTIONS = ("", "_reverse")  # PyTorch's name suffixes: forward, reverse


def bidirectional_param_shapes(cell: Cell, layer: int, input_size: int, hidden_size: int) -> dict[str, tuple]:
    """Both directions' parameter names (without a prefix) and shapes, forward first."""
    base = layer_param_shapes(cell, layer, input_size, hidden_size)
    return {name + suffix: shape for suffix in DIRECTIONS for name, shape in base.items()}


class _Direction:
    """One direction: its recurrent layer and its input weight (which the layer does not use)."""

    def __init__(self, cell: Cell, hidden_size: int, store: ParamStore, prefix: str, layer: int, suffix: str):
        tail = f"_l{layer}{suffix}"
        names = [n for n in store.names() if n.startswith(prefix) and n.endswith(tail)]
        params = {n[len(prefix) : -len(tail)]: store.params[n] for n in names}
        grads = {n[len(prefix) : -len(tail)]: store.grads[n] for n in names}
        self.w_ih, self.dw_ih = params["weight_ih"], grads["weight_ih"]
        self.rnn = RecurrentLayer(cell, hidden_size, params, grads)


class BidirectionalLayer:
    def __init__(self, cell: Cell, hidden_size: int, store: ParamStore, prefix: str, layer: int):
        """Binds to the parameters ``{prefix}weight_ih_l{layer}`` ... ``{prefix}bias_hh_l{layer}_reverse``
        of ``store`` (see :func:`bidirectional_param_shapes`)."""
        self.H = hidden_size
        self.forward_dir = _Direction(cell, hidden_size, store, prefix, layer, DIRECTIONS[0])
        self.reverse_dir = _Direction(cell, hidden_size, store, prefix, layer, DIRECTIONS[1])
        self._x = None
        self._batch = None

    def refresh(self) -> None:
        """Call after the parameters change."""
        self.forward_dir.rnn.refresh()
        self.reverse_dir.rnn.refresh()

    def forward(self, x: np.ndarray, batch: PaddedBatch) -> tuple[np.ndarray, np.ndarray]:
        """x: (T, N, D), kept (not copied) until :meth:`backward`. Returns the forward and reverse
        outputs, each (T, N, H) and aligned with x: at position t, the forward output has read
        x[0..t] and the reverse output x[t..len-1]. Values at padded positions are meaningless.
        The forward output is a view into the layer's workspace, valid until the next forward."""
        T, N, D = x.shape
        M, H = T * N, self.H
        x2 = x.reshape(M, D)
        self._x, self._batch = x2, batch
        fwd, rev = self.forward_dir, self.reverse_dir
        GH = fwd.w_ih.shape[0]

        a = np.empty((T, N, GH), x.dtype)
        np.matmul(x2, fwd.w_ih.T, out=a.reshape(M, GH))
        y_fwd, _ = fwd.rnn.forward(a, fwd.rnn.initial_state(N))

        projected = x2 @ rev.w_ih.T
        a_rev = np.empty((T, N, GH), x.dtype)
        tensor_k.gather_rows(projected, batch.reverse, a_rev.reshape(M, GH))
        y_rev, _ = rev.rnn.forward(a_rev, rev.rnn.initial_state(N))
        y_back = np.empty((T, N, H), x.dtype)
        tensor_k.gather_rows(y_rev.reshape(M, H), batch.reverse, y_back.reshape(M, H))  # un-reverse
        return y_fwd, y_back

    def backward(self, dy_fwd: np.ndarray, dy_back: np.ndarray) -> np.ndarray:
        """Gradients of the two outputs of the last forward, each (T, N, H), zero at padded
        positions. Writes every parameter gradient of both directions; returns dx (T, N, D)."""
        x2, batch = self._x, self._batch
        T, N = batch.shape
        M, H = T * N, self.H
        fwd, rev = self.forward_dir, self.reverse_dir
        GH = fwd.w_ih.shape[0]

        # None: no gradient into the final state; the padding after each sequence passes nothing back.
        da, _ = fwd.rnn.backward(np.ascontiguousarray(dy_fwd), None)
        da2 = da.reshape(M, GH)
        np.matmul(da2.T, x2, out=fwd.dw_ih)
        dx = da2 @ fwd.w_ih

        dy_rev = np.empty((M, H), x2.dtype)
        tensor_k.gather_rows(np.ascontiguousarray(dy_back).reshape(M, H), batch.reverse, dy_rev)
        da_rev, _ = rev.rnn.backward(dy_rev.reshape(T, N, H), None)
        da_back = np.empty((M, GH), x2.dtype)
        tensor_k.gather_rows(da_rev.reshape(M, GH), batch.reverse, da_back)  # back to the input's order
        np.matmul(da_back.T, x2, out=rev.dw_ih)
        dx += da_back @ rev.w_ih
        return dx.reshape(T, N, -1)
