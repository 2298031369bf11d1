"""One recurrent layer over a window of T steps: forward, and backward through the window.

The layer owns the time loop around its cell's step (``kernels/cell_steps.py``): one recurrent
matrix product per step (numpy's BLAS), then the fused gate kernel. Where numpy's OpenBLAS
can be called from jitted code (``kernels/blas.py``) the whole loop is one call to a window
kernel (``kernels/time_loops.py``); otherwise it runs here in Python, with the same
arithmetic. Either way the kernels are passed the layer's ``Cell``, whose type picks the step
while they compile. The input projection ``a = x W_ih^T`` is *not* done here, so the model can
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
from .kernels import cell_steps as steps_k
from .kernels import time_loops as loops_k


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
        GH, gru = cell.gates * H, cell.linear_before_reset
        self.shape = (T, N)
        self.h = np.zeros((T + 1, N, H), dtype)  # h[0] = h0, h[1:] = outputs
        # The steps take c and hn whatever the cell; a cell without them gets them with no units.
        self.c = np.zeros((T + 1, N, H if cell.has_cell_state else 0), dtype)
        self.hn = np.zeros((T, N, H if gru else 0), dtype)
        self.r = np.zeros((N, GH), dtype)  # recurrent product of one step
        self.da = np.zeros((T, N, GH), dtype)
        # The gradient that multiplies W_hh: da itself except in the GRU's n block.
        self.dr = np.zeros((T, N, GH), dtype) if gru else self.da
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
        self._unused = np.zeros((3, 0), self.dtype)  # the peephole weights of the other cells: never read
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
        if self.cell.has_cell_state:
            c[0] = state[1]
        self._resets = tuple(resets)
        run = self._forward_window if self.fused else self._forward_steps
        for t0, t1, rows in _segments(T, self._resets):
            # h[t0] is also step t0-1's output: zeroed for step t0 only, then put back.
            with self._zeroed_state(t0, rows):
                run(a, b, t0, t1)
        self._gates = a
        final = (h[T].copy(), c[T].copy()) if self.cell.has_cell_state else (h[T].copy(),)
        return h[1:], final

    def activations(self) -> dict[str, np.ndarray]:
        """Copies of what the last forward computed, each (T, N, H): ``h``, ``c`` (LSTMs) and
        every gate block by its letter (``cell.gate_names``), activated. For `charlm inspect`."""
        ws, H = self._ws, self.H
        out = {"h": ws.h[1:].copy()}
        if self.cell.has_cell_state:
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
        kept = [(part, part[t, rows].copy()) for part in (ws.h, ws.c)]
        for part, _ in kept:
            part[t, rows] = 0
        try:
            yield
        finally:
            for part, values in kept:
                part[t, rows] = values

    def _peepholes(self) -> tuple[np.ndarray, np.ndarray]:
        """The peephole weights and their gradient, or for the other cells an array never read."""
        return self.p.get("weight_peephole", self._unused), self.g.get("weight_peephole", self._unused)

    def _forward_window(self, a, b, t0: int, t1: int) -> None:
        ws, p = self._ws, self.p
        loops_k.forward_window(self.cell, a[t0:t1], self._w_hh_t, b, self._peepholes()[0], p["bias_ih"], p["bias_hh"],
                               ws.h[t0 : t1 + 1], ws.c[t0 : t1 + 1], ws.hn[t0:t1], ws.r)

    def _forward_steps(self, a, b, t0: int, t1: int) -> None:
        ws, p, peep = self._ws, self.p, self._peepholes()[0]
        h, c, hn, r = ws.h, ws.c, ws.hn, ws.r
        for t in range(t0, t1):
            np.matmul(h[t], self._w_hh_t, out=r)
            steps_k.forward_step(self.cell, a[t], r, b, peep, p["bias_ih"], p["bias_hh"], h[t], c[t], hn[t], h[t + 1],
                                 c[t + 1])

    def backward(self, dy: np.ndarray, dstate: tuple | None = None) -> tuple[np.ndarray, tuple]:
        """Backward through the window of the last forward.

        dy: (T, N, H) gradient of the outputs; dstate: gradient of the final state, or None for
        zero (truncated BPTT: nothing flows back from the next window).
        Writes dW_hh, db_ih, db_hh (and the peephole gradient) into the gradient arrays and returns
        ``da`` (T, N, G*H), the gradient of the input projection, and the gradient of the initial
        state."""
        ws = self._ws
        T, N = ws.shape
        h, da, dh_rec, dcarry = ws.h, ws.da, ws.dh_rec, ws.dcarry
        db_ih, db_hh = self.g["bias_ih"], self.g["bias_hh"]
        db_ih[:] = 0
        db_hh[:] = 0
        if dstate is None:
            dh_rec[:] = 0
            dcarry[:] = 0
        else:
            dh_rec[:] = dstate[0]
            dcarry[:] = dstate[1] if self.cell.has_cell_state else 0
        self._peepholes()[1][:] = 0  # the steps accumulate into it
        run = self._backward_window if self.fused else self._backward_steps
        for t0, t1, rows in reversed(_segments(T, self._resets)):
            with self._zeroed_state(t0, rows):
                run(dy, t0, t1)
            if rows is not None:  # nothing flows back into the document before
                dh_rec[rows] = 0
                dcarry[rows] = 0
        if not self.cell.linear_before_reset:  # the two biases enter the same sum
            db_hh[:] = db_ih
        # The whole window's recurrent weight gradient as one product: (G*H, T*N) @ (T*N, H),
        # with the states that were reset (the product's inputs there) as the zeros they were.
        dr = ws.dr  # the gradient that multiplies W_hh
        GH = dr.shape[2]
        with contextlib.ExitStack() as zeroed:
            for t, rows in self._resets:
                zeroed.enter_context(self._zeroed_state(t, rows))
            np.matmul(dr.reshape(T * N, GH).T, h[:T].reshape(T * N, self.H), out=self.g["weight_hh"])
        if self.cell.has_cell_state:
            dstate0 = (dh_rec.copy(), dcarry.copy())
        elif self.cell.linear_before_reset:  # dcarry: the direct part of dh
            dstate0 = (dh_rec + dcarry,)
        else:
            dstate0 = (dh_rec.copy(),)
        return da, dstate0

    def _backward_window(self, dy, t0: int, t1: int) -> None:
        ws, g, (peep, dpeep) = self._ws, self.g, self._peepholes()
        loops_k.backward_window(self.cell, self._gates[t0:t1], self.p["weight_hh"], peep, ws.h[t0 : t1 + 1],
                                ws.c[t0 : t1 + 1], ws.hn[t0:t1], dy[t0:t1], ws.dh_rec, ws.dcarry, ws.da[t0:t1],
                                ws.dr[t0:t1], g["bias_ih"], g["bias_hh"], dpeep)

    def _backward_steps(self, dy, t0: int, t1: int) -> None:
        ws, g, (peep, dpeep) = self._ws, self.g, self._peepholes()
        gates, h, c, hn, dr, w_hh = self._gates, ws.h, ws.c, ws.hn, ws.dr, self.p["weight_hh"]
        for t in range(t1 - 1, t0 - 1, -1):
            steps_k.backward_step(self.cell, gates[t], peep, h[t], c[t], hn[t], h[t + 1], c[t + 1], dy[t], ws.dh_rec,
                                  ws.dcarry, ws.da[t], dr[t], g["bias_ih"], g["bias_hh"], dpeep)
            np.matmul(dr[t], w_hh, out=ws.dh_rec)
