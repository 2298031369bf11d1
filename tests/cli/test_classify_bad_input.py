"""Bad input to ``charlm classify``: one line on stderr, a non-zero exit, no traceback, and nothing
on disk changed. Each case is a file or option a real user gives by mistake."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.classify_texts import TINY, write_labelled, write_split_folder
from tests.helpers.cli import refused, run_cli, tree


def train_refused(folder: Path, data, *options, fragments=()):
    before = tree(folder)
    result = run_cli(None, "classify", "train", data, "--out", folder / "run", *TINY, *options)
    refused(result, *fragments)
    assert tree(folder) == before  # no run folder, no checkpoint, nothing rewritten
    return result


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A trained classifier's run folder and its data folder."""
    folder = write_split_folder(tmp_path_factory.mktemp("bad") / "data", train=100, dev=30, test=30)
    run = folder.parent / "run"
    result = run_cli(None, "classify", "train", folder, "--out", run, *TINY, "--epochs", 1, "--quiet")
    assert result.code == 0, result.err
    return run, folder


# ---------------------------------------------------------------------------------------- data files
def test_missing_data(tmp_path):
    train_refused(tmp_path, tmp_path / "nope.txt", fragments=("nope.txt",))


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    train_refused(tmp_path, tmp_path / "empty.txt", fragments=("empty",))


def test_a_line_without_a_tab(tmp_path):
    path = write_labelled(tmp_path / "data.txt", 20, 0)
    path.write_text(path.read_text() + "pos this line has no tab\n")
    train_refused(tmp_path, path, fragments=("line 21", "TAB"))


def test_an_empty_label_or_text(tmp_path):
    path = write_labelled(tmp_path / "data.txt", 20, 0)
    path.write_text(path.read_text() + "\tno label here\n")
    train_refused(tmp_path, path, fragments=("line 21", "empty label"))
    path.write_text(path.read_text().replace("\tno label here\n", "pos\t   \n"))
    train_refused(tmp_path, path, fragments=("line 21", "empty text"))


def test_not_utf8(tmp_path):
    path = write_labelled(tmp_path / "data.txt", 20, 0)
    path.write_bytes(path.read_bytes() + "pos\tcaf\u00e9\n".encode("cp1252"))
    train_refused(tmp_path, path, fragments=("not valid UTF-8", "line 21"))


def test_a_dev_label_never_seen_in_training(tmp_path):
    folder = write_split_folder(tmp_path / "data", train=40, dev=10, test=0)
    with (folder / "dev.txt").open("a") as f:
        f.write("meh\tw1 w2 w3\n")
    train_refused(tmp_path, folder, fragments=("dev.txt line 11", "'meh'", "not seen in training"))


def test_a_folder_with_dev_and_test_but_no_train(tmp_path):
    folder = write_split_folder(tmp_path / "data", train=0, dev=10, test=10)
    train_refused(tmp_path, folder, fragments=("no train.txt",))


def test_a_folder_whose_file_names_give_no_label(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "notes.md").write_text("hello\n")
    train_refused(tmp_path, folder, fragments=("notes.md", "label"))


def test_a_single_class(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("".join(f"pos\tw{i} great\n" for i in range(20)))
    train_refused(tmp_path, path, fragments=("single label",))


# ---------------------------------------------------------------------------------------- options
@pytest.mark.parametrize("options, fragment", [
    (["--dropout", 1.5], "--dropout"),
    (["--hidden-size", 0], "--hidden-size"),
    (["--batch-size", 0], "--batch-size"),
    (["--lr", -1], "--lr"),
    (["--patience", -2], "--patience"),
    (["--model", "rcnn", "--layers", 2], "--layers must be 1"),
    (["--model", "rcnn", "--pool", "mean"], "--pool"),
    (["--dev-frac", 1.5], "--dev-frac"),
    (["--folds", 1], "--folds"),
    (["--folds", 3], "own dev or test split"),
    (["--folds", 3, "--test", "x.txt"], "leave out --dev and --test"),
    (["--min-freq", 1000], "--min-freq"),
    (["--threads", 0], "threads"),
])
def test_impossible_options(tmp_path, options, fragment):
    folder = write_split_folder(tmp_path / "data", train=40, dev=10, test=10)
    train_refused(tmp_path, folder, *options, fragments=(fragment,))


def test_an_existing_run_is_not_overwritten_without_force(model, tmp_path):
    run, folder = model
    before = tree(run)
    result = run_cli(None, "classify", "train", folder, "--out", run, *TINY, "--epochs", 1)
    refused(result, "already holds a run", "--force")
    assert tree(run) == before


# ---------------------------------------------------------------------------------------- predict / eval
def test_eval_with_a_label_the_model_never_saw(model, tmp_path):
    run, _ = model
    path = tmp_path / "eval.txt"
    path.write_text("pos\tw1 great\nmeh\tw2 w3\n")
    refused(run_cli(None, "classify", "eval", run, path), "line 2", "'meh'", "not seen in training")


def test_predict_with_a_blank_line(model, tmp_path):
    run, _ = model
    path = tmp_path / "in.txt"
    path.write_text("w1 great\n\nw2 awful\n")
    refused(run_cli(None, "classify", "predict", run, path), "line 2", "blank")


def test_predict_non_utf8_standard_input(model, monkeypatch):
    run, _ = model
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("caf\u00e9 great\n".encode("cp1252"))))
    refused(run_cli(None, "classify", "predict", run, "-"), "standard input", "not valid UTF-8")


def test_predict_with_a_missing_model_or_file(model, tmp_path):
    run, folder = model
    refused(run_cli(None, "classify", "predict", tmp_path / "nope", folder / "test.txt"), "nope")
    refused(run_cli(None, "classify", "predict", run, tmp_path / "absent.txt"), "absent.txt")


def test_a_damaged_checkpoint(model, tmp_path):
    run, folder = model
    damaged = tmp_path / "damaged.npz"
    data = (run / "best.npz").read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    refused(run_cli(None, "classify", "predict", damaged, folder / "test.txt"), "damaged")


def _drop(key):
    return lambda meta: meta.pop(key)


def _set_model(key, value):
    return lambda meta: meta["model"].__setitem__(key, value)


@pytest.mark.parametrize("change, fragments", [
    (_drop("vocab"), ["'vocab' is missing"]),
    (_drop("labels"), ["'labels' is missing"]),
    (lambda meta: meta.__setitem__("dtype", "int8"), ["dtype must be float32 or float64", "'int8'"]),
    (lambda meta: meta.__setitem__("dtype", 3), ["dtype must be float32 or float64"]),
    (_set_model("hidden_size", "32"), ["hidden_size must be an integer", "string"]),
    (_set_model("hidden_size", -4), ["hidden_size"]),
    (lambda meta: meta.__setitem__("model", [1, 2]), ["model"]),
])
def test_a_classifier_checkpoint_with_lying_metadata_is_refused_naming_the_field(model, tmp_path, change, fragments):
    from tests.helpers.forged import forge

    run, folder = model
    forged = forge(run / "best.npz", tmp_path / "forged.npz", meta=change)
    for command in ("eval", "predict"):
        result = run_cli(None, "classify", command, forged, folder / "test.txt")
        refused(result, *fragments)
        assert "--" not in result.err  # a field of the file, not an option of the command line


def test_foreign_files_as_checkpoints(model, tmp_path):
    _, folder = model
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    refused(run_cli(None, "classify", "eval", text, folder / "test.txt"), "not a charlm checkpoint")
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    refused(run_cli(None, "classify", "eval", plain, folder / "test.txt"), "not a charlm checkpoint")


def test_a_language_model_is_not_a_classifier_and_back(model, tmp_path):
    from charlm.lm.config import ModelConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.lm.models.saved import save_model
    from charlm.text.vocab import Vocab

    run, folder = model
    vocab = Vocab.build_char("hello world\n")
    lm = tmp_path / "lm.npz"
    save_model(lm, RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=4, layers=1)), vocab)
    refused(run_cli(None, "classify", "predict", lm, folder / "test.txt"), "language model, not a classifier")
    refused(run_cli(None, "sample", run / "best.npz", "--length", 5), "another kind", "charlm-classifier")
