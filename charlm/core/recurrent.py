"""One recurrent layer over a window of T steps: forward, and backward through the window.

The layer owns the time loop around the step kernels in ``charlm/core/kernels``: one recurrent
matrix product per step (numpy's BLAS), then the fused gate kernel. Where numpy's OpenBLAS
can be called from jitted code (``kernels/blas.py``) the whole loop is one call to a window
kernel (``kernels/time_loops.py``); otherwise it runs here in Python, with the same
arithmetic. The input projection ``a = x W_ih^T`` is *not* done here, so the model can
compute it for the whole window in one product (or, for the first layer, look it up in an
embedding-projection table). Likewise the backward returns ``da``, the gradient of ``a``; the
caller turns it into dW_ih and dx.

Shapes: T time, N batch (parallel streams), D input, H hidden, G gates per cell.
Buffers are time-major (T, N, .) and reused from one window to the next.

Parameters follow ``torch.nn.LSTM/GRU/RNN`` names and layouts, per layer l:
``weight_ih_l{l}`` (G*H, D), ``weight_hh_l{l}`` (G*H, H), ``bias_ih_l{l}``, ``bias_hh_l{l}`` (G*H,),
and for the peephole cell ``weight_peephole_l{l}`` (3, H) with rows i, f, o.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .cells import CELLS, Cell, layer_param_shapes  # noqa: F401 (the layer's cell table, re-exported)
from .kernels import blas
from .kernels import gru as gru_k
from .kernels import lstm as lstm_k
from .kernels import time_loops as loops_k
from .kernels import rnn as rnn_k


# Where documents begin inside a window: (t, rows) pairs, t ascending, rows an index array.
Resets = tuple


def _segments(T: int, resets) -> list[tuple[int, int, object]]:
    """The window cut at the reset steps: (t0, t1, rows reset at t0 or None), covering 0..T."""
    cuts = [(t, rows) for t, rows in resets if 0 <= t < T]
    starts = [(0, None)] + cuts if not cuts or cuts[0][0] > 0 else cuts
    ends = [t for t, _ in starts[1:]] + [T]
    return [(t0, t1, rows) for (t0, rows), t1 in zip(starts, ends)]


class _Workspace:
    """Buffers for one window shape, reused from window to window."""

    def __init__(self, cell: Cell, T: int, N: int, H: int, dtype):
        GH = cell.gates * H
        self.shape = (T, N)
        self.h = np.zeros((T + 1, N, H), dtype)  # h[0] = h0, h[1:] = outputs
        self.c = np.zeros((T + 1, N, H), dtype) if cell.has_cell_state else None
        self.hn = np.zeros((T, N, H), dtype) if cell.name == "gru" else None
        self.r = np.zeros((N, GH), dtype)  # recurrent product of one step
        self.da = np.zeros((T, N, GH), dtype)
        self.dr = np.zeros((T, N, GH), dtype) if cell.name == "gru" else None
        self.dh_rec = np.zeros((N, H), dtype)
        self.dcarry = np.zeros((N, H), dtype)  # dc (LSTMs) or the direct part of dh (GRU)


class RecurrentLayer:
    """A layer of one cell type, bound to parameter and gradient arrays it does not own.

    ``params`` and ``grads`` map this layer's names (without the ``_l{l}`` suffix) to arrays
    that live in the model's flat buffers: the layer reads the former and writes the latter.
    """

    fused = blas.AVAILABLE  # time loop in one jitted call; False: the Python loop (tests set it)

    def __init__(self, cell: Cell, hidden_size: int, params: dict, grads: dict):
        self.cell = cell
        self.H = hidden_size
        self.p = params
        self.g = grads
        self.dtype = params["weight_hh"].dtype
        self._w_hh_t = None
        self._ws = None
        self._gates = None  # the `a` of the last forward, holding activated gates
        self._resets: Resets = ()  # those of the last forward
        self.refresh()

    def refresh(self) -> None:
        """Call after the parameters change: the forward's recurrent product uses a C-contiguous
        copy of W_hh^T, because BLAS multiplies small matrices much faster by a non-transposed
        right operand (measured: 114 against 95 GFLOPS for 50x256 by 256x1024)."""
        self._w_hh_t = np.ascontiguousarray(self.p["weight_hh"].T)

    def _workspace(self, T: int, N: int) -> _Workspace:
        if self._ws is None or self._ws.shape != (T, N):
            self._ws = _Workspace(self.cell, T, N, self.H, self.dtype)
        return self._ws

    def initial_state(self, N: int) -> tuple:
        shape = (N, self.H)
        if self.cell.has_cell_state:
            return (np.zeros(shape, self.dtype), np.zeros(shape, self.dtype))
        return (np.zeros(shape, self.dtype),)

    def forward(self, a: np.ndarray, state: tuple, resets: Resets = ()) -> tuple[np.ndarray, tuple]:
        """a: (T, N, G*H) input projection x W_ih^T (no bias), overwritten with the activated
        gates; state: (h0,) or (h0, c0), each (N, H). ``resets``: (t, rows) pairs, t ascending:
        those rows start step t from a zero state (a new document begins there).
        Returns the outputs (T, N, H), a view valid until the next forward, and the final state."""
        T, N, _ = a.shape
        ws = self._workspace(T, N)
        h, c = ws.h, ws.c
        b = self.p["bias_ih"] + self.p["bias_hh"]  # the kernels add one bias (the GRU's n block keeps them apart)
        h[0] = state[0]
        if c is not None:
            c[0] = state[1]
        self._resets = tuple(resets)
        run = self._forward_window if self.fused else self._forward_steps
        for t0, t1, rows in _segments(T, self._resets):
            # h[t0] is also step t0-1's output: zeroed for step t0 only, then put back.
            with self._zeroed_state(t0, rows):
                run(a, b, t0, t1)
        self._gates = a
        final = (h[T].copy(), c[T].copy()) if c is not None else (h[T].copy(),)
        return h[1:], final

    def activations(self) -> dict[str, np.ndarray]:
        """Copies of what the last forward computed, each (T, N, H): ``h``, ``c`` (LSTMs) and
        every gate block by its letter (``cell.gate_names``), activated. For `charlm inspect`."""
        ws, H = self._ws, self.H
        out = {"h": ws.h[1:].copy()}
        if ws.c is not None:
            out["c"] = ws.c[1:].copy()
        for k, letter in enumerate(self.cell.gate_names):
            if letter != "h":  # a plain RNN's one block is its output
                out[letter] = self._gates[..., k * H:(k + 1) * H].copy()
        return out

    @contextlib.contextmanager
    def _zeroed_state(self, t: int, rows):
        """The state entering step t, zero for ``rows`` while the block runs (for none: nothing)."""
        if rows is None:
            yield
            return
        ws = self._ws
        kept = [(part, part[t, rows].copy()) for part in (ws.h, ws.c) if part is not None]
        for part, _ in kept:
            part[t, rows] = 0
        try:
            yield
        finally:
            for part, values in kept:
                part[t, rows] = values

    def _forward_window(self, a, b, t0: int, t1: int) -> None:
        ws, p, name, H = self._ws, self.p, self.cell.name, self.H
        h, r, w_hh_t = ws.h[t0 : t1 + 1], ws.r, self._w_hh_t
        c = ws.c[t0 : t1 + 1] if ws.c is not None else None
        a = a[t0:t1]
        if name == "lstm":
            loops_k.lstm_forward_window(a, w_hh_t, b, h, c, r)
        elif name == "lstm-peephole":
            loops_k.peephole_forward_window(a, w_hh_t, b, p["weight_peephole"], h, c, r)
        elif name == "lstm-coupled":
            loops_k.coupled_forward_window(a, w_hh_t, b, h, c, r)
        elif name == "gru":
            loops_k.gru_forward_window(a, w_hh_t, b[: 2 * H], p["bias_ih"][2 * H :], p["bias_hh"][2 * H :], h, ws.hn[t0:t1], r)
        elif name == "rnn-tanh":
            loops_k.rnn_tanh_forward_window(a, w_hh_t, b, h, r)
        else:
            loops_k.rnn_relu_forward_window(a, w_hh_t, b, h, r)

    def _forward_steps(self, a, b, t0: int, t1: int) -> None:
        ws, name, H = self._ws, self.cell.name, self.H
        h, c, r, w_hh_t = ws.h, ws.c, ws.r, self._w_hh_t
        b_ih, b_hh = self.p["bias_ih"], self.p["bias_hh"]
        for t in range(t0, t1):
            np.matmul(h[t], w_hh_t, out=r)
            if name == "lstm":
                lstm_k.lstm_forward_step(a[t], r, b, c[t], h[t + 1], c[t + 1])
            elif name == "lstm-peephole":
                lstm_k.peephole_forward_step(a[t], r, b, self.p["weight_peephole"], c[t], h[t + 1], c[t + 1])
            elif name == "lstm-coupled":
                lstm_k.coupled_forward_step(a[t], r, b, c[t], h[t + 1], c[t + 1])
            elif name == "gru":
                gru_k.gru_forward_step(a[t], r, b[: 2 * H], b_ih[2 * H :], b_hh[2 * H :], h[t], ws.hn[t], h[t + 1])
            elif name == "rnn-tanh":
                rnn_k.rnn_tanh_forward_step(a[t], r, b, h[t + 1])
            else:
                rnn_k.rnn_relu_forward_step(a[t], r, b, h[t + 1])

    def backward(self, dy: np.ndarray, dstate: tuple | None = None) -> tuple[np.ndarray, tuple]:
        """Backward through the window of the last forward.

        dy: (T, N, H) gradient of the outputs; dstate: gradient of the final state, or None for
        zero (truncated BPTT: nothing flows back from the next window).
        Writes dW_hh, db_ih, db_hh (and the peephole gradient) into the gradient arrays and returns
        ``da`` (T, N, G*H), the gradient of the input projection, and the gradient of the initial
        state."""
        ws = self._ws
        T, N = ws.shape
        h, c, da, dh_rec, dcarry = ws.h, ws.c, ws.da, ws.dh_rec, ws.dcarry
        db_ih, db_hh = self.g["bias_ih"], self.g["bias_hh"]
        db_ih[:] = 0
        db_hh[:] = 0
        if dstate is None:
            dh_rec[:] = 0
            dcarry[:] = 0
        else:
            dh_rec[:] = dstate[0]
            dcarry[:] = dstate[1] if c is not None else 0
        name = self.cell.name
        if name == "lstm-peephole":
            self.g["weight_peephole"][:] = 0
        # The gradient that multiplies W_hh: equal to da except in the GRU's n block.
        drec = ws.dr if name == "gru" else da
        run = self._backward_window if self.fused else self._backward_steps
        for t0, t1, rows in reversed(_segments(T, self._resets)):
            with self._zeroed_state(t0, rows):
                run(dy, t0, t1)
            if rows is not None:  # nothing flows back into the document before
                dh_rec[rows] = 0
                dcarry[rows] = 0
        if name != "gru":
            db_hh[:] = db_ih
        # The whole window's recurrent weight gradient as one product: (G*H, T*N) @ (T*N, H),
        # with the states that were reset (the product's inputs there) as the zeros they were.
        GH = drec.shape[2]
        with contextlib.ExitStack() as zeroed:
            for t, rows in self._resets:
                zeroed.enter_context(self._zeroed_state(t, rows))
            np.matmul(drec.reshape(T * N, GH).T, h[:T].reshape(T * N, self.H), out=self.g["weight_hh"])
        if c is not None:
            dstate0 = (dh_rec.copy(), dcarry.copy())
        elif name == "gru":
            dstate0 = (dh_rec + dcarry,)
        else:
            dstate0 = (dh_rec.copy(),)
        return da, dstate0

    def _backward_window(self, dy, t0: int, t1: int) -> None:
        ws, p, g, name = self._ws, self.p, self.g, self.cell.name
        gates, h, da, dh_rec, dcarry, w_hh = self._gates[t0:t1], ws.h[t0 : t1 + 1], ws.da[t0:t1], ws.dh_rec, ws.dcarry, p["weight_hh"]
        c = ws.c[t0 : t1 + 1] if ws.c is not None else None
        dy = dy[t0:t1]
        db = g["bias_ih"]
        if name == "lstm":
            loops_k.lstm_backward_window(gates, w_hh, c, dy, dh_rec, dcarry, da, db)
        elif name == "lstm-peephole":
            loops_k.peephole_backward_window(gates, w_hh, p["weight_peephole"], c, dy, dh_rec, dcarry, da, db, g["weight_peephole"])
        elif name == "lstm-coupled":
            loops_k.coupled_backward_window(gates, w_hh, c, dy, dh_rec, dcarry, da, db)
        elif name == "gru":
            loops_k.gru_backward_window(gates, w_hh, ws.hn[t0:t1], h, dy, dh_rec, dcarry, da, ws.dr[t0:t1], db, g["bias_hh"])
        elif name == "rnn-tanh":
            loops_k.rnn_tanh_backward_window(h, w_hh, dy, dh_rec, da, db)
        else:
            loops_k.rnn_relu_backward_window(h, w_hh, dy, dh_rec, da, db)

    def _backward_steps(self, dy, t0: int, t1: int) -> None:
        ws, p, name = self._ws, self.p, self.cell.name
        gates, h, c, da, dh_rec, dcarry, w_hh = self._gates, ws.h, ws.c, ws.da, ws.dh_rec, ws.dcarry, p["weight_hh"]
        db_ih, db_hh = self.g["bias_ih"], self.g["bias_hh"]
        dp = self.g.get("weight_peephole")
        drec = ws.dr if name == "gru" else da
        for t in range(t1 - 1, t0 - 1, -1):
            if name == "lstm":
                lstm_k.lstm_backward_step(gates[t], c[t], c[t + 1], dy[t], dh_rec, dcarry, da[t], db_ih)
            elif name == "lstm-peephole":
                lstm_k.peephole_backward_step(gates[t], p["weight_peephole"], c[t], c[t + 1], dy[t], dh_rec, dcarry, da[t], db_ih, dp)
            elif name == "lstm-coupled":
                lstm_k.coupled_backward_step(gates[t], c[t], c[t + 1], dy[t], dh_rec, dcarry, da[t], db_ih)
            elif name == "gru":
                gru_k.gru_backward_step(gates[t], ws.hn[t], h[t], dy[t], dh_rec, dcarry, da[t], drec[t], db_ih, db_hh)
            elif name == "rnn-tanh":
                rnn_k.rnn_tanh_backward_step(h[t + 1], dy[t], dh_rec, da[t], db_ih)
            else:
                rnn_k.rnn_relu_backward_step(h[t + 1], dy[t], dh_rec, da[t], db_ih)
            np.matmul(drec[t], w_hh, out=dh_rec)
