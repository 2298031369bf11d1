"""The one place a cell's step kernels are called from: ``forward_step`` and ``backward_step``,
chosen by the cell while a kernel compiles, never at run time.

A cell is passed to kernels as its row of the cell table (``core/cells.py``'s ``Cell``). Its
Numba type, ``CellKind``, holds that row, so a kernel taking a cell compiles once per cell,
with only that cell's step inside. (A runtime ``if code == ...`` chain compiles every cell's
step into every caller: ~16 s against ~4 s for the LSTM alone. Passing a row costs ~2 us per
call from Python, for the type lookup.)

The argument list is the same for every cell; each step kernel reads what its cell needs and
ignores the rest (pass any array of the right dtype and dimension for an unused one):

forward_step(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out)
    a, r: (N, G*H) input and recurrent products, a overwritten with the activated gates;
    b = b_ih + b_hh, b_ih, b_hh: (G*H,) (the GRU keeps its n block's apart); p: (3, H) peephole
    weights; h_prev, c_prev: (N, H) the state entering the step; hn: (N, H) the GRU's
    W_hn h + b_hn, kept for its backward; h_out, c_out: (N, H) the state leaving it.
backward_step(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp)
    gates: (N, G*H) the forward's activated ``a``; p, h_prev, c_prev, hn: as in the forward;
    h, c: (N, H) the state it left; dy, dh_rec: (N, H) the two parts of dL/dh (dh_rec is
    scratch); dcarry: (N, H) the gradient carried to the step before (dL/dc for the LSTMs, the
    part of dL/dh that bypasses W_hh for the GRU), in place; da: (N, G*H) out; dr: (N, G*H) out,
    the gradient that multiplies W_hh where it differs from da (the GRU); db_ih, db_hh: (G*H,)
    and dp: (3, H) accumulated (the cells whose two biases share a gradient write db_ih only).

A new cell: its row in ``core/cells.py``, its two step kernels, one line in ``STEPS``.
"""

from __future__ import annotations

from numba.core import types
from numba.extending import NativeValue, models, overload_attribute, register_model, typeof_impl, unbox

from ..cells import CELLS, Cell
from ._jit import OVERLOAD_OPTIONS, inline_kernel, kernel_overload
from .gru import gru_backward_step, gru_forward_step
from .lstm import (
    coupled_backward_step,
    coupled_forward_step,
    lstm_backward_step,
    lstm_forward_step,
    peephole_backward_step,
    peephole_forward_step,
)
from .rnn import rnn_relu_backward_step, rnn_relu_forward_step, rnn_tanh_backward_step, rnn_tanh_forward_step

# Each cell's (forward, backward) step kernels.
STEPS = {
    "lstm": (lstm_forward_step, lstm_backward_step),
    "lstm-peephole": (peephole_forward_step, peephole_backward_step),
    "lstm-coupled": (coupled_forward_step, coupled_backward_step),
    "gru": (gru_forward_step, gru_backward_step),
    "rnn-tanh": (rnn_tanh_forward_step, rnn_tanh_backward_step),
    "rnn-relu": (rnn_relu_forward_step, rnn_relu_backward_step),
}


class CellKind(types.Dummy):
    """The Numba type of a ``Cell``: the row itself is the type's key, so each cell (and a row
    that ever changes) compiles, and is cached, as a type of its own. No value at run time."""

    def __init__(self, cell: Cell):
        self.cell = cell
        super().__init__(name=f"Cell({cell.name})")

    @property
    def key(self):
        return self.cell


register_model(CellKind)(models.OpaqueModel)


@unbox(CellKind)
def _unbox(typ, obj, c):
    return NativeValue(c.context.get_dummy_value())


_KINDS = {name: CellKind(cell) for name, cell in CELLS.items()}  # built once: typeof runs on every call


@typeof_impl.register(Cell)
def _typeof_cell(cell, c):
    return _KINDS[cell.name]


@overload_attribute(CellKind, "has_cell_state", jit_options=OVERLOAD_OPTIONS)
def _has_cell_state(cell):
    """``cell.has_cell_state`` in a kernel: a constant, so the branch it decides compiles away."""
    value = cell.cell.has_cell_state
    return lambda cell: value


def _forward(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    raise NotImplementedError("chosen while a kernel compiles: call forward_step")


def _backward(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    raise NotImplementedError("chosen while a kernel compiles: call backward_step")


@kernel_overload(_forward)
def _choose_forward(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    step = STEPS[cell.cell.name][0]

    def run(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
        step(a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out)

    return run


@kernel_overload(_backward)
def _choose_backward(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    step = STEPS[cell.cell.name][1]

    def run(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
        step(gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp)

    return run


@inline_kernel
def forward_step(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """One step of ``cell`` (a ``Cell``) for N rows; arguments in the module docstring."""
    _forward(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out)


@inline_kernel
def backward_step(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """The backward of one step of ``cell``; arguments in the module docstring."""
    _backward(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp)
