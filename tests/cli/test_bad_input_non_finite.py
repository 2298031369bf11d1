"""Weights that load but compute nothing finite (every parameter 3e38: finite, so the load check
passes them): every command that computes with them refuses in one line naming the checkpoint,
instead of printing a `nan` loss, garbage text or numpy's overflow warnings with exit 0."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.classify.config import ClassifierConfig, default_pool
from charlm.classify.models import build_classifier
from charlm.supervised.saved_model import save_classifier
from charlm.lm.config import ModelConfig
from charlm.lm.models.kinds import build_language_model
from charlm.lm.models.saved import save_model
from charlm.store.checkpoint import HEADER_KEYS, load_checkpoint, save_checkpoint
from charlm.text.vocab import Vocab
from tests.helpers.classify_texts import write_labelled
from tests.helpers.cli import Result, refused, run_cli
from tests.helpers.texts import english_text

HUGE = 3e38  # below float32's largest (3.4e38): it loads, and overflows in the first product
UNUSABLE = "produces non-finite values; the weights are unusable"


def with_huge_weights(source, target):
    """A copy of checkpoint ``source`` with every parameter set to HUGE."""
    arrays, meta = load_checkpoint(source)
    for name, array in arrays.items():
        if name.startswith("param/"):
            array[...] = HUGE
    save_checkpoint(target, arrays, {k: v for k, v in meta.items() if k not in HEADER_KEYS})
    return target


@pytest.fixture(scope="module")
def huge(trained_run, tmp_path_factory):
    """(the huge copy of the CLI tests' trained model, a text in its vocabulary)."""
    folder, corpus, run, result = trained_run
    assert result.code == 0, result.err
    path = with_huge_weights(run / "best.npz", tmp_path_factory.mktemp("huge") / "huge.npz")
    return path, corpus


def unusable(result, path):
    """Refused in one line naming the checkpoint; before it only charlm's notes (a compile, --limit);
    nothing on stdout, no numpy warning."""
    *before, last = result.err.strip().splitlines() or [""]
    refused(Result(result.code, result.out, last), str(path), UNUSABLE)
    assert all(line.startswith(("note: ", "Compiling ")) for line in before), result.err
    assert "Warning" not in result.err and result.out == ""


@pytest.mark.parametrize("options", [[], ["--json"], ["--dynamic"], ["--dynamic", "--lr", "0.1", "--decay", "0"]])
def test_eval_refuses_instead_of_a_nan_loss(huge, capsys, options):
    path, corpus = huge
    unusable(run_cli(capsys, "eval", path, corpus, *options), path)


@pytest.mark.parametrize("options", [[], ["--greedy"], ["--top-k", "3"], ["--top-k", "70"], ["--top-p", "0.5"],
                                     ["--num-samples", "3"], ["--prime", "The "], ["--beam", "3"]])
def test_sample_refuses_non_finite_probabilities_instead_of_printing_garbage(huge, capsys, options):
    path, _ = huge
    options = options if {"--beam", "--greedy"} & set(options) else [*options, "--seed", 1]  # they draw nothing
    unusable(run_cli(capsys, "sample", path, "--length", 20, *options), path)


@pytest.mark.parametrize("options", [[], ["--json"], ["--unit", "0:3"]])
def test_inspect_refuses(huge, capsys, options):
    path, corpus = huge
    unusable(run_cli(capsys, "inspect", path, corpus, "--limit", 300, *options), path)


@pytest.mark.parametrize("model", ["memn2n", "adaptive"])
def test_the_models_sampled_in_python_are_refused_too(tmp_path, capsys, model):
    """The memory network and the adaptive softmax draw outside the jitted loop (sampler.py's
    _run_through_model); eval and inspect read them through their own forward passes."""
    text = english_text(2000)
    if model == "memn2n":
        vocab = Vocab.build_char(text)
        config = ModelConfig(vocab_size=len(vocab), model="memn2n", hidden_size=8, memory=5, hops=2)
    else:
        vocab = Vocab.build_word(text)
        config = ModelConfig(vocab_size=len(vocab), hidden_size=8, layers=1, softmax="adaptive", cutoffs=[20])
    save_model(tmp_path / "m.npz", build_language_model(config, np.float32, seed=1), vocab)
    path = with_huge_weights(tmp_path / "m.npz", tmp_path / "huge.npz")
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    unusable(run_cli(capsys, "sample", path, "--length", 10, "--seed", 1), path)
    unusable(run_cli(capsys, "sample", path, "--length", 10, "--beam", 2), path)
    unusable(run_cli(capsys, "eval", path, tmp_path / "t.txt"), path)
    unusable(run_cli(capsys, "inspect", path, tmp_path / "t.txt", "--json"), path)


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_dynamic_evaluation_that_diverges_names_its_rate_not_the_weights(trained_run, capsys):
    """The trained weights are fine (the static loss is finite); an absurd rate makes the
    adaptation itself diverge: that is the option's fault, and the message says so."""
    _, corpus, run, _ = trained_run
    result = run_cli(capsys, "eval", run, corpus, "--dynamic", "--lr", "1e30")
    refused(result, "--lr 1e+30", "diverged")
    assert UNUSABLE not in result.err


@pytest.fixture(scope="module", params=["textrnn", "rcnn"])
def huge_classifier(request, tmp_path_factory):
    """An untrained classifier saved with every weight HUGE, and a labelled file."""
    folder = tmp_path_factory.mktemp("classify")
    data = write_labelled(folder / "data.txt", 40, seed=1)
    texts = [line.split("\t", 1)[1] for line in data.read_text(encoding="utf-8").splitlines()]
    vocab = Vocab.build_word(texts)
    config = ClassifierConfig(request.param, vocab_size=len(vocab), num_classes=2, embed_size=6, hidden_size=6,
                              pool=default_pool(request.param))
    save_classifier(folder / "m.npz", build_classifier(config), vocab, ["neg", "pos"])
    return with_huge_weights(folder / "m.npz", folder / "huge.npz"), data


@pytest.mark.parametrize("command", [["eval"], ["eval", "--json"], ["predict"], ["predict", "--probs"]])
def test_classify_eval_and_predict_refuse(huge_classifier, capsys, command):
    path, data = huge_classifier
    unusable(run_cli(capsys, "classify", command[0], path, data, *command[1:]), path)


@pytest.fixture(scope="module", params=["treernn", "treelstm"])
def huge_tree_model(request, tmp_path_factory):
    """An untrained tree model saved with every weight HUGE, and a file of trees."""
    from charlm.trees.config import TreeModelConfig
    from charlm.trees.models import build_tree_model
    from tests.helpers.tree_texts import CUES, FILLER, write_treebank

    folder = write_treebank(tmp_path_factory.mktemp("trees") / "data", train=10, dev=5, test=5)
    vocab = Vocab.build_word([" ".join(FILLER + list(CUES))])
    config = TreeModelConfig(request.param, vocab_size=len(vocab), num_classes=5, hidden_size=6)
    save_classifier(folder / "m.npz", build_tree_model(config), vocab, [str(c) for c in range(5)])
    return with_huge_weights(folder / "m.npz", folder / "huge.npz"), folder / "test.txt"


@pytest.mark.parametrize("command", [["eval"], ["predict"]])
def test_a_tree_models_eval_and_predict_refuse(huge_tree_model, capsys, command):
    path, data = huge_tree_model
    unusable(run_cli(capsys, "classify", command[0], path, data, *command[1:]), path)
