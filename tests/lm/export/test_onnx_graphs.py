"""`charlm export`: onnxruntime runs every cell's exported graphs to charlm's own numbers (the state
carried across calls), the step graph agrees with the sequence graph, the file alone is enough to
encode and decode text, examples/onnx_sample.py reproduces `charlm sample --greedy`, and bad input
is refused in one line with nothing on disk changed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx package is not installed (pip install -e '.[test]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[test]')")

from charlm.cli.export import step_path  # noqa: E402
from charlm.core.cells import CELLS  # noqa: E402
from charlm.errors import ConfigError  # noqa: E402
from charlm.lm.config import ModelConfig  # noqa: E402
from charlm.lm.models.recurrent import RecurrentLanguageModel  # noqa: E402
from charlm.lm.export import onnx_graphs  # noqa: E402
from charlm.lm.export.onnx_graphs import build_onnx_model  # noqa: E402
from charlm.text.vocab import Vocab  # noqa: E402
from tests.helpers.classify_texts import TINY as CLASSIFY_TINY, write_split_folder  # noqa: E402
from tests.helpers.cli import refused, run_cli  # noqa: E402
from tests.helpers.paths import REPO

EXAMPLE = REPO / "examples" / "onnx_sample.py"
VOCAB = Vocab.build_char("abcdefghij klmnop\n")
H, N, T = 8, 3, 7


def random_model(cell: str, layers: int, tie: bool) -> RecurrentLanguageModel:
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(VOCAB), cell=cell, hidden_size=H, layers=layers, tie_weights=tie))
    rng = np.random.default_rng(layers)
    for array in model.params.values():  # larger than the initialisation, so every gate matters
        array[...] = rng.uniform(-0.6, 0.6, array.shape)
    model.refresh()
    return model


def session(model: RecurrentLanguageModel, step: bool):
    proto = build_onnx_model(model, VOCAB, step=step)
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def zero_states(model, layers):
    states = {"h0": np.zeros((layers, N, H), np.float32)}
    if model.cell.has_cell_state:
        states["c0"] = np.zeros((layers, N, H), np.float32)
    return states


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))  # every cell of the table, a new one included
def test_onnxruntime_computes_charlms_logits_with_the_state_carried(cell, tie, layers):
    model = random_model(cell, layers, tie)
    sequence, step = session(model, step=False), session(model, step=True)
    rng = np.random.default_rng(7)
    state, feeds = model.initial_state(N), zero_states(model, layers)
    step_feeds = dict(feeds)
    for _ in range(2):  # the second call starts from the first call's final state
        x = rng.integers(0, len(VOCAB), (T, N))
        logits, *finals = sequence.run(None, {"tokens": x.astype(np.int64), **feeds})
        outputs, state = model.outputs(x, state)
        expected = outputs @ model.decoder_weight().T + model.params["decoder.bias"]
        np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(finals[0], np.stack([s[0] for s in state]), atol=1e-5)
        feeds = dict(zip(feeds, finals))
        for t in range(T):  # the step graph, one token at a time, agrees
            step_logits, *step_finals = step.run(None, {"token": x[t].astype(np.int64), **step_feeds})
            step_feeds = dict(zip(step_feeds, step_finals))
            np.testing.assert_allclose(step_logits, logits[t], atol=1e-5, rtol=1e-5)


def test_a_cell_with_no_onnx_mapping_is_refused_by_name_not_exported_as_another(monkeypatch):
    monkeypatch.setattr(onnx_graphs, "ONNX_CELLS", {k: v for k, v in onnx_graphs.ONNX_CELLS.items() if k != "gru"})
    with pytest.raises(ConfigError, match="no ONNX form for the gru cell"):
        build_onnx_model(random_model("gru", 1, False), VOCAB, step=False)


def test_an_adaptive_softmax_exports_as_log_probabilities_of_the_whole_vocabulary():
    words = Vocab(["<unk>", "<eos>"] + [f"w{i}" for i in range(28)], "word")
    config = ModelConfig(vocab_size=len(words), hidden_size=H, layers=2, softmax="adaptive", cutoffs=[6, 15], tail_div=2.0)
    model = RecurrentLanguageModel(config)
    rng = np.random.default_rng(3)
    for array in model.params.values():
        array[...] = rng.uniform(-0.6, 0.6, array.shape)
    model.refresh()
    sequence = ort.InferenceSession(build_onnx_model(model, words, step=False).SerializeToString(),
                                    providers=["CPUExecutionProvider"])
    step = ort.InferenceSession(build_onnx_model(model, words, step=True).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    x = rng.integers(0, len(words), (T, N))
    log_p, *_ = sequence.run(None, {"tokens": x.astype(np.int64), **zero_states(model, 2)})
    outputs, _ = model.outputs(x, model.initial_state(N))
    np.testing.assert_allclose(log_p, model.adaptive.log_probs(outputs.reshape(T * N, H)).reshape(T, N, -1),
                               atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=2), 1.0, rtol=1e-5)
    first, *_ = step.run(None, {"token": x[0].astype(np.int64), **zero_states(model, 2)})
    np.testing.assert_allclose(first, log_p[0], atol=1e-5, rtol=1e-5)


def test_the_file_carries_its_vocabulary_and_configuration_and_passes_the_checker(trained_run, tmp_path, capsys):
    _, _, run, _ = trained_run
    target = tmp_path / "model.onnx"
    result = run_cli(capsys, "export", run, target)
    assert result.code == 0, result.err
    for path in (target, step_path(target)):
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto, full_check=True)
        props = {p.key: p.value for p in proto.metadata_props}
        vocab = Vocab(json.loads(props["charlm.vocab"]), props["charlm.level"])
        assert vocab.decode(vocab.encode("the king")) == "the king"
        assert json.loads(props["charlm.config"])["hidden_size"] == 32
        assert all(i.doc_string for i in proto.graph.input) and all(o.doc_string for o in proto.graph.output)
    assert props["charlm.graph"] == "step" and step_path(target).name == "model.step.onnx"


def test_the_example_reproduces_greedy_sampling(trained_run, tmp_path, capsys):
    _, _, run, _ = trained_run
    target = tmp_path / "model.onnx"
    assert run_cli(capsys, "export", run, target).code == 0
    ours = run_cli(capsys, "sample", run, "--greedy", "--prime", "The ", "--length", 200)
    theirs = subprocess.run([sys.executable, str(EXAMPLE), str(step_path(target)), "--prime", "The ", "--length", "200",
                             "--greedy"], capture_output=True, text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == ours.out and len(ours.out) >= 204
    assert len(EXAMPLE.read_text(encoding="utf-8").splitlines()) <= 40


def test_bad_input_is_refused_and_nothing_is_overwritten(trained_run, tmp_path, capsys):
    _, _, run, _ = trained_run
    target = tmp_path / "model.onnx"
    target.write_bytes(b"mine")
    refused(run_cli(capsys, "export", run, target), "add --force")
    assert target.read_bytes() == b"mine" and not step_path(target).exists()
    assert run_cli(capsys, "export", run, target, "--force").code == 0 and target.read_bytes() != b"mine"
    foreign = tmp_path / "foreign.npz"
    foreign.write_bytes(b"PK\x03\x04 not really a zip")
    refused(run_cli(capsys, "export", foreign, tmp_path / "f.onnx"), "foreign.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes((run / "best.npz").read_bytes()[:5000])
    refused(run_cli(capsys, "export", damaged, tmp_path / "d.onnx"), "damaged.npz")
    assert not (tmp_path / "f.onnx").exists() and not (tmp_path / "d.onnx").exists()


def test_a_classifier_checkpoint_is_refused(tmp_path, capsys):
    folder = write_split_folder(tmp_path / "data", train=60, dev=20, test=20)
    trained = run_cli(capsys, "classify", "train", folder, "--out", tmp_path / "clf", *CLASSIFY_TINY, "--epochs", 1, "--quiet")
    assert trained.code == 0, trained.err
    refused(run_cli(capsys, "export", tmp_path / "clf", tmp_path / "c.onnx"), "not a language model")


def test_a_memory_network_exports_with_its_memory_as_the_state():
    from charlm.lm.models.memory import MemoryLanguageModel

    config = ModelConfig(vocab_size=len(VOCAB), model="memn2n", hidden_size=H, memory=5, hops=3)
    model = MemoryLanguageModel(config)
    rng = np.random.default_rng(4)
    for array in model.params.values():
        array[...] = rng.uniform(-0.8, 0.8, array.shape)
    sequence, step = session(model, step=False), session(model, step=True)
    x = rng.integers(0, len(VOCAB), (T, N))
    empty = np.full((N, 5), -1, np.int64)
    logits, memory = sequence.run(None, {"tokens": x.astype(np.int64), "memory0": empty})
    ours, state = model.outputs(x, model.initial_state(N))
    np.testing.assert_allclose(logits, ours @ model.params["decoder.weight"].T, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(memory, state[0][0])
    # Carried on: a second window from the memory the first one left, step by step.
    carried = memory
    for t in range(3):
        stepped, carried = step.run(None, {"token": x[t].astype(np.int64), "memory0": carried})
        expected, state = model.step_logits(x[t], state)
        np.testing.assert_allclose(stepped, expected, atol=1e-5, rtol=1e-5)
        np.testing.assert_array_equal(carried, state[0][0])
