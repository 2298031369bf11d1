"""The memory network (models/memory.py) as ONNX graphs, for ``charlm export``.

Its state is the memory itself: ``memory0`` [N, M] int64 token ids, newest first, -1 for an empty
slot (all -1 to start), fed back from ``memoryT``. The step graph (``token`` [N] in, ``logits``
[N, V] out) pushes the token into the memory, gathers the memories' two embeddings plus their
position embeddings, and unrolls the K hops: a masked ``Softmax`` over the slots, the read-out as
a ``MatMul``, ``H`` as a ``MatMul``, the ReLU on the units past the first ``linear_units`` by a
``Slice``/``Concat``. The sequence graph (``tokens`` [T, N]) runs that step body in a ``Scan``.
"""

from __future__ import annotations

import numpy as np

from ..models.memory import QUERY

DOC = {
    "tokens": "token ids [time, batch] (int64), the vocabulary in metadata property charlm.vocab",
    "token": "one token id per stream [batch] (int64)",
    "memory0": "the tokens each stream remembers [batch, memory] (int64, newest first; -1 for none: all -1 to start)",
    "logits": "unnormalised log-probabilities of the next token",
    "memoryT": "the memory after the last step, to feed back as memory0",
}
EMPTY_LOGIT = -1e30  # an empty slot's attention logit: exp underflows to exactly 0


def _step_nodes(helper, const, cfg, memory_in: str, token: str, memory_out: str, logits: str) -> list:
    """Nodes of one step: (memory_in [N, M], token [N]) -> (memory_out, logits [N, V])."""
    D, L = cfg.hidden_size, cfg.linear_units
    n = []
    n.append(helper.make_node("Unsqueeze", [token, "axis1"], ["token_Nx1"]))
    n.append(helper.make_node("Slice", [memory_in, "zero", "older_end", "axis1"], ["older"]))
    n.append(helper.make_node("Concat", ["token_Nx1", "older"], [memory_out], axis=1))
    n.append(helper.make_node("GreaterOrEqual", [memory_out, "zero"], ["filled"]))
    n.append(helper.make_node("Max", [memory_out, "zero"], ["ids"]))  # empty slots read row 0, then masked
    for table, temporal, name in (("memory.A", "memory.T_A", "m"), ("memory.C", "memory.T_C", "c")):
        n.append(helper.make_node("Gather", [table, "ids"], [f"{name}_rows"], axis=0))
        n.append(helper.make_node("Add", [f"{name}_rows", temporal], [name]))  # [N, M, D]
    query = "u0"
    for k in range(cfg.hops):
        n.append(helper.make_node("Unsqueeze", [query, "axis2"], [f"q{k}"]))  # [N or 1, D, 1]
        n.append(helper.make_node("MatMul", ["m", f"q{k}"], [f"s{k}_3d"]))  # [N, M, 1]
        n.append(helper.make_node("Squeeze", [f"s{k}_3d", "axis2"], [f"s{k}"]))
        n.append(helper.make_node("Where", ["filled", f"s{k}", "empty_logit"], [f"s{k}_masked"]))
        n.append(helper.make_node("Softmax", [f"s{k}_masked"], [f"p{k}"], axis=1))
        n.append(helper.make_node("Unsqueeze", [f"p{k}", "axis1"], [f"p{k}_3d"]))  # [N, 1, M]
        n.append(helper.make_node("MatMul", [f"p{k}_3d", "c"], [f"o{k}_3d"]))  # [N, 1, D]
        n.append(helper.make_node("Squeeze", [f"o{k}_3d", "axis1"], [f"o{k}"]))
        n.append(helper.make_node("MatMul", [query, "hop.H.T"], [f"hu{k}"]))
        n.append(helper.make_node("Add", [f"hu{k}", f"o{k}"], [f"z{k}"]))
        if L >= D:
            query = f"z{k}"
            continue
        n.append(helper.make_node("Slice", [f"z{k}", "linear_end", "units_end", "axis1"], [f"z{k}_relu_in"]))
        n.append(helper.make_node("Relu", [f"z{k}_relu_in"], [f"z{k}_relu"]))
        if L == 0:
            query = f"z{k}_relu"
            continue
        n.append(helper.make_node("Slice", [f"z{k}", "zero", "linear_end", "axis1"], [f"z{k}_linear"]))
        n.append(helper.make_node("Concat", [f"z{k}_linear", f"z{k}_relu"], [f"u{k + 1}"], axis=1))
        query = f"u{k + 1}"
    n.append(helper.make_node("MatMul", [query, "decoder.weight.T"], [logits]))
    return n


def build_memory_graph(model, *, step: bool):
    """The sequence graph, or (``step``) the one-step graph, of a MemoryLanguageModel."""
    from onnx import TensorProto, helper, numpy_helper

    cfg = model.config
    M, D, V = cfg.memory, cfg.hidden_size, cfg.vocab_size
    inits = []

    def const(name: str, array) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    params = {k: np.asarray(v, np.float32) for k, v in model.params.items()}
    for name in ("memory.A", "memory.T_A", "memory.C", "memory.T_C"):
        const(name, params[name])
    const("hop.H.T", np.ascontiguousarray(params["hop.H"].T))
    const("decoder.weight.T", np.ascontiguousarray(params["decoder.weight"].T))
    const("u0", np.full((1, D), QUERY, np.float32))
    const("empty_logit", np.array(EMPTY_LOGIT, np.float32))
    for name, value in (("zero", 0), ("axis1", 1), ("axis2", 2), ("older_end", M - 1), ("linear_end", cfg.linear_units),
                        ("units_end", D)):
        const(name, np.array([value], np.int64))

    def value(name, dtype, shape):
        return helper.make_tensor_value_info(name, dtype, shape, doc_string=DOC[name])

    memory_in = value("memory0", TensorProto.INT64, ["batch", M])
    memory_out = value("memoryT", TensorProto.INT64, ["batch", M])
    if step:
        nodes = _step_nodes(helper, const, cfg, "memory0", "token", "memoryT", "logits")
        inputs = [value("token", TensorProto.INT64, ["batch"]), memory_in]
        outputs = [value("logits", TensorProto.FLOAT, ["batch", V]), memory_out]
        return helper.make_graph(nodes, "charlm_step", inputs, outputs, initializer=inits)
    # The sequence: a Scan over time of the step body (which reads the weights from this graph).
    body_nodes = _step_nodes(helper, const, cfg, "body_memory_in", "body_token", "body_memory_out", "body_logits")
    body = helper.make_graph(
        body_nodes, "charlm_memory_step",
        [helper.make_tensor_value_info("body_memory_in", TensorProto.INT64, ["batch", M]),
         helper.make_tensor_value_info("body_token", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("body_memory_out", TensorProto.INT64, ["batch", M]),
         helper.make_tensor_value_info("body_logits", TensorProto.FLOAT, ["batch", V])])
    scan = helper.make_node("Scan", ["memory0", "tokens"], ["memoryT", "logits"], num_scan_inputs=1, body=body)
    inputs = [value("tokens", TensorProto.INT64, ["time", "batch"]), memory_in]
    outputs = [value("logits", TensorProto.FLOAT, ["time", "batch", V]), memory_out]
    return helper.make_graph([scan], "charlm_sequence", inputs, outputs, initializer=inits)
