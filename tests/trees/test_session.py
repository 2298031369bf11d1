"""``charlm classify`` with the tree models, end to end: training learns a treebank whose labels
follow its trees, eval reports root and all-node accuracy, predict reads trees or sentences, a
saved model comes back the same, and bad input is one line and a non-zero exit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from charlm.supervised.saved_model import load_classifier
from tests.helpers.cli import run_cli
from tests.helpers.tree_texts import TINY, write_treebank


@pytest.fixture(scope="module")
def treebank(tmp_path_factory):
    return write_treebank(tmp_path_factory.mktemp("treebank") / "trees")


@pytest.mark.parametrize("model", ["treernn", "rntn", "treelstm"])
def test_each_tree_model_learns_labels_that_follow_the_tree(treebank, tmp_path, capsys, model):
    result = run_cli(capsys, "classify", "train", treebank, "--model", model, *TINY, "--out", tmp_path / "run",
                     "--json", "--quiet")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    # Five classes, most roots not neutral: chance is about 30%, the majority class under 40%.
    assert summary["dev_acc"] > 0.6 and summary["test_all_nodes_acc"] > 0.8, summary
    assert summary["labels"] == ["0", "1", "2", "3", "4"] and summary["model"]["model"] == model


@pytest.fixture(scope="module")
def trained(treebank, tmp_path_factory):
    out = tmp_path_factory.mktemp("rntn") / "run"
    result = run_cli(None, "classify", "train", treebank, "--model", "rntn", *TINY, "--out", out, "--quiet")
    assert result.code == 0, result.err
    return out


def test_eval_reports_root_and_all_node_accuracy(trained, treebank, capsys):
    result = run_cli(capsys, "classify", "eval", trained, treebank / "test.txt", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["examples"] == 80 and sum(map(sum, report["confusion"])) == 80
    nodes = report["all_nodes"]
    n_nodes = sum(line.count("(") for line in (treebank / "test.txt").read_text().splitlines())
    assert nodes["nodes"] == n_nodes and sum(map(sum, nodes["confusion"])) == n_nodes
    assert 0 < report["accuracy"] <= 1 and nodes["accuracy"] > report["accuracy"] - 0.5
    table = run_cli(capsys, "classify", "eval", trained, treebank / "test.txt")
    assert "root accuracy" in table.out and "all-node accuracy" in table.out


def test_predict_agrees_with_eval_and_builds_trees_for_sentences(trained, treebank, capsys, tmp_path):
    lines = (treebank / "test.txt").read_text().splitlines()[:20]
    result = run_cli(capsys, "classify", "predict", trained, treebank / "test.txt")
    assert result.code == 0 and len(result.out.splitlines()) == 80
    snap = load_classifier(trained / "best.npz")
    from charlm.trees.session import encode
    from charlm.trees.treebank import parse_tree

    data, _ = encode([parse_tree(t) for t in lines], snap.vocab)
    batch = data.batch(range(20))
    want = snap.model.node_logits(batch)[batch.roots].argmax(axis=1)
    assert result.out.splitlines()[:20] == [snap.labels[i] for i in want]
    plain = tmp_path / "plain.txt"
    plain.write_text("great w1 w2\nw3 awful\n")
    sentences = run_cli(capsys, "classify", "predict", trained, plain)
    assert sentences.code == 0 and len(sentences.out.splitlines()) == 2
    assert "note: 2 of 2 input(s) are plain sentences" in sentences.err and "balanced binary tree" in sentences.err


def test_binary_classes_drop_neutral_roots(treebank, tmp_path, capsys):
    result = run_cli(capsys, "classify", "train", treebank, "--model", "treernn", "--classes", 2, *TINY,
                     "--json", "--quiet")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    neutral = sum(line.startswith("(2 ") for line in (treebank / "dev.txt").read_text().splitlines())
    assert summary["labels"] == ["negative", "positive"] and summary["dev_examples"] == 80 - neutral
    assert summary["dev_acc"] > 0.8


def test_a_saved_tree_model_comes_back_with_the_same_outputs(trained):
    first, second = load_classifier(trained / "best.npz"), load_classifier(trained / "best.npz")
    assert first.model.config == second.model.config
    np.testing.assert_array_equal(first.model.store.data, second.model.store.data)
    assert first.meta["train"]["optimizer"] == "adagrad" and first.meta["train"]["l2"] == 1e-4


def test_corenlps_recipe_learns_and_is_saved_with_the_model(treebank, tmp_path, capsys):
    result = run_cli(capsys, "classify", "train", treebank, "--model", "rntn", "--recipe", "corenlp", "--hidden-size", 8,
                     "--lr", 0.1, "--epochs", 8, "--threads", 1, "--out", tmp_path / "run", "--json", "--quiet")
    assert result.code == 0, result.err
    assert json.loads(result.out)["dev_acc"] > 0.6
    snap = load_classifier(tmp_path / "run" / "best.npz")
    train = snap.meta["train"]
    assert snap.model.config.leaf_tanh and snap.model.config.hidden_size == 8
    assert (train["recipe"], train["batch_size"], train["patience"], train["l2"]) == ("corenlp", 27, 25, None)


@pytest.mark.parametrize("args, fragment", [
    (["--model", "textrnn"], "holds bracketed parse trees: train a tree model on it"),
    (["--model", "rntn", "--cell", "gru"], "--cell is for the sequence classifiers"),
    (["--model", "rntn", "--folds", 3], "--folds is for the sequence classifiers"),
    (["--model", "rcnn", "--classes", 2], "--classes is for the tree models"),
    (["--model", "rntn", "--classes", 3], "--classes must be 5 (fine-grained) or 2 (binary)"),
    (["--model", "rntn", "--embed-size", 5], "--embed-size must equal --hidden-size for rntn"),
    (["--model", "treelstm", "--recipe", "corenlp"], "--recipe corenlp is CoreNLP's recipe for treernn and rntn"),
    (["--model", "rntn", "--recipe", "corenlp", "--l2", 0.01], "--l2 cannot take effect with --recipe corenlp"),
    (["--model", "rntn", "--recipe", "corenlp", "--optimizer", "adam"], "--optimizer adam cannot take effect"),
    (["--model", "rcnn", "--recipe", "corenlp"], "--recipe is for the tree models"),
])
def test_impossible_options_are_refused_by_name(treebank, tmp_path, capsys, args, fragment):
    result = run_cli(capsys, "classify", "train", treebank, *args, "--out", tmp_path / "run")
    assert result.code != 0 and fragment in result.err and "Traceback" not in result.err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("line, fragment", [
    ("(3 (2 a) (2 b)", "train.txt line 2: unbalanced brackets"),
    ("(3 (2 a) (2 b) (2 c))", "train.txt line 2: a node with 3 children"),
    ("(9 (2 a) (2 b))", "tree 2: label 9 outside the classes 0-4"),
])
def test_a_malformed_tree_is_one_line_naming_the_file_and_line(tmp_path, capsys, line, fragment):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "train.txt").write_text("(3 (2 x) (4 great))\n" + line + "\n")
    result = run_cli(capsys, "classify", "train", folder, "--model", "rntn")
    assert result.code != 0 and fragment in result.err and len(result.err.strip().splitlines()) == 1


def test_a_plain_text_file_given_to_a_tree_model(tmp_path, capsys):
    plain = tmp_path / "labelled.txt"
    plain.write_text("pos\ta fine film\nneg\ta dull one\n")
    result = run_cli(capsys, "classify", "train", plain, "--model", "treelstm")
    assert result.code != 0 and "is not a file of bracketed trees" in result.err


def test_a_treebank_given_to_a_sequence_classifier_at_eval(treebank, tmp_path, capsys):
    from tests.helpers.classify_texts import TINY as SEQUENCE_TINY, write_split_folder

    folder = write_split_folder(tmp_path / "labelled")
    trained = run_cli(capsys, "classify", "train", folder, *SEQUENCE_TINY, "--epochs", 1, "--out", tmp_path / "seq",
                      "--quiet")
    assert trained.code == 0, trained.err
    result = run_cli(capsys, "classify", "eval", tmp_path / "seq", treebank / "test.txt")
    assert result.code != 0 and "holds bracketed parse trees, but the model is a textrnn" in result.err


def test_charlm_info_shows_a_tree_model_and_a_sequence_classifier(trained, tmp_path, capsys):
    result = run_cli(capsys, "info", trained)
    assert result.code == 0, result.err
    assert "rntn (d=8)" in result.out and "0, 1, 2, 3, 4" in result.out and "adagrad lr 0.1" in result.out
    report = json.loads(run_cli(capsys, "info", trained, "--json").out)
    assert report["kind"] == "classifier" and report["model"]["model"] == "rntn" and 0 < report["best_dev_acc"] <= 1
    from tests.helpers.classify_texts import TINY as SEQUENCE_TINY, write_split_folder

    folder = write_split_folder(tmp_path / "labelled")
    assert run_cli(capsys, "classify", "train", folder, *SEQUENCE_TINY, "--epochs", 1, "--out", tmp_path / "seq",
                   "--quiet").code == 0
    sequence = run_cli(capsys, "info", tmp_path / "seq")
    assert sequence.code == 0 and "textrnn lstm 12x1 per direction" in sequence.out and "neg, pos" in sequence.out
