"""The table of recurrent cells: names, gate counts and parameter shapes. Plain data with no
imports beyond the standard library, so the configuration and the command line can name and check
cells without loading Numba."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    """What the model needs to know about a cell type."""

    name: str
    gates: int  # G: blocks of H rows in W_ih / W_hh
    has_cell_state: bool  # carries c besides h (the LSTMs)
    gate_names: str  # the order of the G blocks, as in the docstrings of the kernels
    peepholes: bool = False  # weight_peephole_l{k}: the gates also see c (Gers & Schmidhuber 2000)
    # The candidate's recurrent product is gated by r after the multiply, so its recurrent bias is a
    # separate parameter and the product (hn) is kept for the backward pass (PyTorch's GRU; ONNX's
    # linear_before_reset=1).
    linear_before_reset: bool = False

    @property
    def has_forget_gate(self) -> bool:
        """An f block whose bias --forget-bias sets (the LSTMs; a GRU's z gate is no forget gate)."""
        return "f" in self.gate_names


CELLS = {
    "lstm": Cell("lstm", 4, True, "ifgo"),
    "lstm-peephole": Cell("lstm-peephole", 4, True, "ifgo", peepholes=True),
    "lstm-coupled": Cell("lstm-coupled", 3, True, "fgo"),
    "gru": Cell("gru", 3, False, "rzn", linear_before_reset=True),
    "rnn-tanh": Cell("rnn-tanh", 1, False, "h"),
    "rnn-relu": Cell("rnn-relu", 1, False, "h"),
}


def layer_param_shapes(cell: Cell, layer: int, input_size: int, hidden_size: int) -> dict[str, tuple]:
    """Parameter names and shapes of layer ``layer`` (PyTorch's names)."""
    G, H = cell.gates, hidden_size
    shapes = {
        f"weight_ih_l{layer}": (G * H, input_size),
        f"weight_hh_l{layer}": (G * H, H),
        f"bias_ih_l{layer}": (G * H,),
        f"bias_hh_l{layer}": (G * H,),
    }
    if cell.peepholes:
        shapes[f"weight_peephole_l{layer}"] = (3, H)
    return shapes


# Cells with a forget gate, whose bias a model may start at 1 (Jozefowicz et al. 2015).
LSTMS = tuple(name for name, cell in CELLS.items() if cell.has_forget_gate)
