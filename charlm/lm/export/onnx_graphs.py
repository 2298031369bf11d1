"""A language model as ONNX graphs that run without charlm or Python (``charlm export``).

Every cell maps onto ONNX's own recurrent operators, so any ONNX runtime runs it as one fused
loop: ``LSTM`` (ONNX's gate order is i, o, f, c; charlm's, PyTorch's, is i, f, g, o), the
peephole cell through the operator's ``P`` input (rows i, o, f), the coupled-gate cell through
``input_forget=1`` (ONNX then takes f = 1 - i, so charlm's forget gate is fed in negated as the
input gate: sigmoid(-z) = 1 - sigmoid(z)), ``GRU`` with ``linear_before_reset=1`` (PyTorch's form;
gate order z, r, h against charlm's r, z, n) and ``RNN`` with Tanh or Relu. The embedding is a
``Gather``, the decoder a ``MatMul`` and an ``Add``; a tied decoder reads the embedding's one
initializer through a ``Transpose``. An adaptive softmax becomes its head's and clusters'
``MatMul`` and ``LogSoftmax`` nodes joined by a ``Concat``: its ``logits`` are then normalised
log-probabilities, which sample exactly as logits do.

The memory network has graphs of its own (memory_onnx.py). Two graphs: the sequence graph (``tokens`` [T, N] int64, ``h0`` [L, N, H] and, for LSTMs, ``c0``
in; ``logits`` [T, N, V], ``hT`` and ``cT`` out) and the step graph for generation loops
(``token`` [N] in, ``logits`` [N, V] out, the same states). The vocabulary and the configuration
go into the model's metadata properties, so a consumer can encode and decode text from the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ... import __version__
from ...errors import ConfigError
from ..models.kinds import kind_of

OPSET = 17
# charlm's gate blocks in ONNX's order, per cell (indices into charlm's blocks of H rows).
LSTM_ORDER = (0, 3, 1, 2)  # i f g o -> i o f c
GRU_ORDER = (1, 0, 2)  # r z n -> z r h
PEEPHOLE_ORDER = (0, 2, 1)  # rows i f o -> i o f

DOC = {
    "tokens": "token ids [time, batch] (int64), the vocabulary in metadata property charlm.vocab",
    "token": "one token id per stream [batch] (int64)",
    "h0": "hidden state entering the first step [layers, batch, hidden] (zeros to start)",
    "c0": "cell state entering the first step [layers, batch, hidden] (LSTMs; zeros to start)",
    "logits": "unnormalised log-probabilities of the next token",
    "hT": "hidden state after the last step, to feed back as h0",
    "cT": "cell state after the last step, to feed back as c0",
}


def _adaptive_decoder(helper, nodes: list, const, x: str, params: dict, adaptive, out: str) -> None:
    """The adaptive softmax's log-probabilities over the whole vocabulary [T, N, V]: the head's
    LogSoftmax, its shortlist columns, then each cluster's LogSoftmax plus its head column."""
    def matmul(name: str, source: str, weight: str) -> str:
        const(weight + ".T", np.ascontiguousarray(params[weight].T))
        nodes.append(helper.make_node("MatMul", [source, weight + ".T"], [name]))
        return name

    def columns(name: str, source: str, start: int, stop: int) -> str:
        nodes.append(helper.make_node("Slice", [source, const(name + ".start", np.array([start], np.int64)),
                                                const(name + ".stop", np.array([stop], np.int64)),
                                                const(name + ".axis", np.array([2], np.int64))], [name]))
        return name

    nodes.append(helper.make_node("LogSoftmax", [matmul("head.z", x, "decoder.head.weight")], ["head.lp"], axis=-1))
    parts = [columns("shortlist", "head.lp", 0, adaptive.shortlist)]
    for i in range(adaptive.clusters):
        hidden = matmul(f"tail{i}.h", x, f"decoder.tail.{i}.0.weight")
        nodes.append(helper.make_node("LogSoftmax", [matmul(f"tail{i}.z", hidden, f"decoder.tail.{i}.1.weight")],
                                      [f"tail{i}.lp"], axis=-1))
        gate = columns(f"tail{i}.cluster", "head.lp", adaptive.shortlist + i, adaptive.shortlist + i + 1)
        nodes.append(helper.make_node("Add", [f"tail{i}.lp", gate], [f"tail{i}.words"]))
        parts.append(f"tail{i}.words")
    nodes.append(helper.make_node("Concat", parts, [out], axis=2))


def _blocks(order: tuple):
    """charlm's gate blocks of H rows, reordered into ONNX's order."""
    def reorder(array: np.ndarray, H: int) -> np.ndarray:
        return np.concatenate([array[k * H:(k + 1) * H] for k in order], axis=0)
    return reorder


def _coupled(array: np.ndarray, H: int) -> np.ndarray:
    """[f g o] -> ONNX's [i o f c] with input_forget=1: i is the negated forget gate, f unused."""
    f, g, o = array[:H], array[H:2 * H], array[2 * H:]
    return np.concatenate([-f, o, np.zeros_like(f), g], axis=0)


def _as_is(array: np.ndarray, H: int) -> np.ndarray:
    return array


@dataclass(frozen=True)
class OnnxCell:
    """How one cell maps onto an ONNX recurrent operator."""

    op: str  # LSTM, GRU or RNN
    blocks: Callable  # (array, H) -> its gate blocks in ONNX's order
    attributes: dict = field(default_factory=dict)


# One line per cell of core/cells.py; a cell missing here is refused by name, never guessed.
ONNX_CELLS = {
    "lstm": OnnxCell("LSTM", _blocks(LSTM_ORDER)),
    "lstm-peephole": OnnxCell("LSTM", _blocks(LSTM_ORDER)),  # the peepholes go in as P
    "lstm-coupled": OnnxCell("LSTM", _coupled, {"input_forget": 1}),
    "gru": OnnxCell("GRU", _blocks(GRU_ORDER), {"linear_before_reset": 1}),
    "rnn-tanh": OnnxCell("RNN", _as_is, {"activations": ["Tanh"]}),
    "rnn-relu": OnnxCell("RNN", _as_is, {"activations": ["Relu"]}),
}


def onnx_cell(cell: str) -> OnnxCell:
    if cell not in ONNX_CELLS:
        raise ConfigError(f"charlm export has no ONNX form for the {cell} cell yet")
    return ONNX_CELLS[cell]


def onnx_layer_weights(cell: str, params: dict, layer: int, H: int) -> dict[str, np.ndarray]:
    """ONNX's W [1, G*H, D], R [1, G*H, H], B [1, 2*G*H] (and P [1, 3H]) for one layer."""
    blocks = onnx_cell(cell).blocks
    W, R, Bw, Br = (blocks(params[f"rnn.{name}_l{layer}"], H) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    out = {"W": W[None], "R": R[None], "B": np.concatenate([Bw, Br])[None]}
    peepholes = f"rnn.weight_peephole_l{layer}"
    if peepholes in params:
        out["P"] = _blocks(PEEPHOLE_ORDER)(params[peepholes].reshape(-1), H)[None]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def build_graph(model, *, step: bool):
    """The sequence graph, or (``step``) the one-step graph, of a RecurrentLanguageModel."""
    from onnx import TensorProto, helper, numpy_helper

    cfg = model.config
    L, H, V = cfg.layers, cfg.hidden_size, cfg.vocab_size
    lstm = model.cell.has_cell_state
    nodes, inits = [], []

    def const(name: str, array) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    params = {k: np.asarray(v, np.float32) for k, v in model.params.items()}
    embedding = const("encoder.weight", params["encoder.weight"])
    source = "token" if step else "tokens"
    ids = source
    if step:
        ids = "tokens_1xN"
        nodes.append(helper.make_node("Unsqueeze", [source, const("axis0", np.array([0], np.int64))], [ids]))
    nodes.append(helper.make_node("Gather", [embedding, ids], ["x0"], axis=0))
    layer_input, finals_h, finals_c = "x0", [], []
    for layer in range(L):
        weights = onnx_layer_weights(cfg.cell, params, layer, H)
        names = {k: const(f"l{layer}.{k}", v) for k, v in weights.items()}
        pick = const(f"l{layer}.index", np.array([layer], np.int64))
        nodes.append(helper.make_node("Gather", ["h0", pick], [f"l{layer}.h0"], axis=0))
        inputs = [layer_input, names["W"], names["R"], names["B"], "", f"l{layer}.h0"]
        outputs = [f"l{layer}.y", f"l{layer}.hT"]
        if lstm:
            nodes.append(helper.make_node("Gather", ["c0", pick], [f"l{layer}.c0"], axis=0))
            inputs += [f"l{layer}.c0"] + ([names["P"]] if "P" in names else [])
            outputs.append(f"l{layer}.cT")
        mapping = onnx_cell(cfg.cell)
        nodes.append(helper.make_node(mapping.op, inputs, outputs, name=f"layer{layer}", hidden_size=H,
                                      **mapping.attributes))
        # Y is [T, 1 direction, N, H]: drop the direction axis for the next layer.
        nodes.append(helper.make_node("Squeeze", [f"l{layer}.y", const(f"l{layer}.axis1", np.array([1], np.int64))],
                                      [f"l{layer}.out"]))
        layer_input = f"l{layer}.out"
        finals_h.append(f"l{layer}.hT")
        finals_c.append(f"l{layer}.cT")
    logits = "logits"
    if model.adaptive is not None:
        _adaptive_decoder(helper, nodes, const, layer_input, params, model.adaptive, "logits_TxN" if step else logits)
    else:
        if cfg.tie_weights:
            nodes.append(helper.make_node("Transpose", [embedding], ["decoder.weight.T"], perm=[1, 0]))
        else:
            const("decoder.weight.T", np.ascontiguousarray(params["decoder.weight"].T))
        nodes.append(helper.make_node("MatMul", [layer_input, "decoder.weight.T"], ["projected"]))
        nodes.append(helper.make_node("Add", ["projected", const("decoder.bias", params["decoder.bias"])],
                                      ["logits_TxN" if step else logits]))
    if step:
        nodes.append(helper.make_node("Squeeze", ["logits_TxN", "axis0"], [logits]))
    nodes.append(helper.make_node("Concat", finals_h, ["hT"], axis=0))
    if lstm:
        nodes.append(helper.make_node("Concat", finals_c, ["cT"], axis=0))

    def value(name, dtype, shape):
        return helper.make_tensor_value_info(name, dtype, shape, doc_string=DOC[name])

    inputs = [value(source, TensorProto.INT64, ["batch"] if step else ["time", "batch"]),
              value("h0", TensorProto.FLOAT, [L, "batch", H])]
    outputs = [value(logits, TensorProto.FLOAT, ["batch", V] if step else ["time", "batch", V]),
               value("hT", TensorProto.FLOAT, [L, "batch", H])]
    if lstm:
        inputs.append(value("c0", TensorProto.FLOAT, [L, "batch", H]))
        outputs.append(value("cT", TensorProto.FLOAT, [L, "batch", H]))
    name = "charlm_step" if step else "charlm_sequence"
    return helper.make_graph(nodes, name, inputs, outputs, initializer=inits)


def build_onnx_model(model, vocab, *, step: bool, meta: dict | None = None):
    """An onnx ModelProto, checked by onnx.checker, with charlm's metadata properties."""
    import onnx
    from onnx import helper

    graph = kind_of(model.config).onnx_graph(model, step=step)
    proto = helper.make_model(graph, producer_name="charlm", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8  # what onnxruntime releases of the last years all read
    properties = {
        "charlm.version": __version__,
        "charlm.graph": "step" if step else "sequence",
        "charlm.level": vocab.level,
        "charlm.vocab": json.dumps(list(vocab.tokens), ensure_ascii=False),
        "charlm.config": json.dumps(model.config.to_dict()),
        "charlm.eos": "" if vocab.eos_id is None else str(vocab.eos_id),
    }
    if meta:
        properties.update(meta)
    helper.set_model_props(proto, properties)
    onnx.checker.check_model(proto, full_check=True)
    return proto
