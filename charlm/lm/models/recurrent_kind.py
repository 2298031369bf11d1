"""The recurrent language model's entry in the table of kinds (``kinds.py``): embedding,
recurrent layers of one cell (``core/cells.py``), decoder (``recurrent.py``). Plain data: the
model, its kernels and its graphs are imported when asked for."""

from __future__ import annotations

from ...core.cells import CELLS, LSTMS
from ...errors import ConfigError
from .protocol import ModelKind


def default_forget_bias(cell: str) -> float | None:
    """The forget-gate bias a new model starts with: 1 for the LSTMs (Jozefowicz et al. 2015),
    none for cells without a forget gate."""
    return 1.0 if cell in LSTMS else None


class RecurrentKind(ModelKind):
    called = "the recurrent model"
    a_model = "a recurrent model"
    options = ("cell", "layers", "embed_size", "dropout", "tie_weights", "init_scale", "forget_bias", "softmax",
               "cutoffs", "tail_div")
    why_streams = "its hidden state is carried along streams"
    runs_jitted_loops = True

    def build(self, config, dtype, seed: int = 0):
        from .recurrent import RecurrentLanguageModel

        return RecurrentLanguageModel(config, dtype, seed=seed)

    def describe(self, config) -> str:
        return f"{config.cell} {config.hidden_size}x{config.layers}, embedding {config.embed_size}"

    def info_description(self, config: dict) -> str:
        return f"{config['cell']} {config['hidden_size']}x{config['layers']}, embedding {config['embed_size']}"

    def kernel_family(self, config) -> str:
        return config.cell  # the kernels are the cell's

    def tiny_values(self, family: str, vocab_size: int, dropout: float) -> dict:
        return {"vocab_size": vocab_size, "model": self.name, "cell": family, "hidden_size": 4, "layers": 2,
                "dropout": dropout}

    def new_run_values(self, options, values: dict) -> tuple[dict, dict]:
        """A new LSTM's forget gate starts at 1 unless told otherwise; a cell without one refuses
        --forget-bias."""
        cell = CELLS.get(values["cell"])
        if options.forget_bias is not None and cell is not None and not cell.has_forget_gate:
            with_lstm = ", ".join(name for name, row in CELLS.items() if row.has_forget_gate)
            raise ConfigError(f"--forget-bias cannot take effect with --cell {cell.name}: it has no forget gate "
                              f"(the cells with one: {with_lstm})")
        if options.forget_bias is None:
            values = {**values, "forget_bias": default_forget_bias(values["cell"])}
        return values, {}

    def inspect_values(self, model) -> tuple[int, list[str]]:
        """h, c for the LSTMs, and each gate by its letter."""
        cell = CELLS[model.config.cell]
        return model.config.layers, ["h"] + (["c"] if cell.has_cell_state else []) + [g for g in cell.gate_names if g != "h"]

    def onnx_graph(self, model, step: bool):
        from ..export.onnx_graphs import build_graph

        return build_graph(model, step=step)
