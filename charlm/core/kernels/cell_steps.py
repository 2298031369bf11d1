"""The one place a cell's step kernels are called from: ``forward_step`` and ``backward_step``,
chosen by the cell while a kernel compiles, never at run time.

A cell is passed to kernels as its row of the cell table (``core/cells.py``'s ``Cell``). Its
Numba type, ``CellKind``, holds that row, so a kernel taking a cell compiles once per cell, and
``forward_step`` compiles into a plain call of that cell's step kernel, as if the caller had
named it: no other cell's step is compiled (a runtime ``if code == ...`` chain compiles all six
into every caller) and nothing is left to decide at run time. Passing a row costs ~2 us per call
from Python, where its type is looked up. (``numba.extending.overload`` chooses the same way but
also compiles the chosen implementation as a function of its own: measured 1.5 s more on a cold
``charlm train``; the ``intrinsic`` below emits the call directly.)

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
from numba.core.typing.templates import AttributeTemplate
from numba.extending import (
    NativeValue,
    infer_getattr,
    intrinsic,
    lower_getattr,
    models,
    register_model,
    typeof_impl,
    unbox,
)

from ..cells import CELLS, Cell
from ._jit import inline_kernel
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


@infer_getattr
class _CellAttributes(AttributeTemplate):
    key = CellKind

    def resolve_has_cell_state(self, cell):
        return types.boolean


@lower_getattr(CellKind, "has_cell_state")
def _has_cell_state(context, builder, typ, value):
    """``cell.has_cell_state`` in a kernel: a constant, so the branch it decides compiles away."""
    return context.get_constant(types.boolean, typ.cell.has_cell_state)


def _call_step(typingctx, which: int, cell, args):
    """The signature and code of a call of ``cell``'s step kernel number ``which`` (0 forward,
    1 backward) with ``args``: a plain call of that kernel, as if the caller had named it."""
    step = types.Dispatcher(STEPS[cell.cell.name][which])
    step_sig = typingctx.resolve_function_type(step, args, {})

    def codegen(context, builder, sig, values):
        context.get_function(step, step_sig)(builder, values[1:])
        return context.get_dummy_value()

    return types.none(cell, *args), codegen


@intrinsic
def _forward(typingctx, cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    return _call_step(typingctx, 0, cell, (a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out))


@intrinsic
def _backward(typingctx, cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    args = (gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp)
    return _call_step(typingctx, 1, cell, args)


@inline_kernel
def forward_step(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out):
    """One step of ``cell`` (a ``Cell``) for N rows; arguments in the module docstring."""
    _forward(cell, a, r, b, p, b_ih, b_hh, h_prev, c_prev, hn, h_out, c_out)


@inline_kernel
def backward_step(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp):
    """The backward of one step of ``cell``; arguments in the module docstring."""
    _backward(cell, gates, p, h_prev, c_prev, hn, h, c, dy, dh_rec, dcarry, da, dr, db_ih, db_hh, dp)
