"""``charlm classify`` as a user runs it: a tiny model learns a separable task, predict and eval
print what they promise, a saved model predicts what the trained one did, seeds repeat runs, and
cross-validation covers every example once."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from charlm.classify import session
from charlm.classify.options import ClassifyOptions
from charlm.supervised.saved_model import load_classifier
from charlm.classify.tokens import encode_text
from charlm.classify.train import predict_probs
from charlm.core.recurrent import CELLS
from tests.helpers.classify_texts import TINY, write_label_folder, write_split_folder
from tests.helpers.cli import run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Text-RNN trained through the CLI on the separable set: (folder, run folder, summary)."""
    folder = write_split_folder(tmp_path_factory.mktemp("classify") / "data")
    run = folder.parent / "run"
    result = run_cli(None, "classify", "train", folder, "--out", run, *TINY, "--seed", 3, "--json", "--quiet")
    assert result.code == 0, result.err
    return folder, run, json.loads(result.out)


def labelled_lines(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_tiny_textrnn_learns_a_separable_task(trained):
    folder, run, summary = trained
    assert summary["dev_acc"] >= 0.9 and summary["test_acc"] >= 0.9, summary
    assert summary["labels"] == ["neg", "pos"]
    assert (run / "best.npz").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if "epoch" in r]
    assert len(epochs) == summary["epochs"] and max(r["dev_acc"] for r in epochs) == summary["dev_acc"]


def test_a_tiny_character_level_rcnn_learns_it_too(tmp_path):
    folder = write_split_folder(tmp_path / "data", train=300, dev=100, test=0)
    result = run_cli(None, "classify", "train", folder, "--model", "rcnn", "--cell", "gru", "--level", "char", *TINY,
                     "--json", "--quiet")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["dev_acc"] >= 0.9, summary
    assert "test_acc" not in summary and summary["model"]["model"] == "rcnn"


def test_predict_prints_one_known_label_per_line_with_probabilities(trained):
    folder, run, _ = trained
    lines = labelled_lines(folder / "test.txt")
    result = run_cli(None, "classify", "predict", run, folder / "test.txt", "--probs")
    assert result.code == 0, result.err
    out = result.out.splitlines()
    assert len(out) == len(lines)
    correct = 0
    for (truth, _), line in zip(lines, out):
        label, *pairs = line.split("\t")
        probs = {k: float(v) for k, v in (p.split("=") for p in pairs)}
        assert set(probs) == {"neg", "pos"}
        assert abs(sum(probs.values()) - 1.0) <= 1e-5
        assert label == max(probs, key=probs.get)
        correct += label == truth
    assert correct / len(lines) >= 0.9


def test_predict_reads_plain_text_from_standard_input(trained, monkeypatch):
    folder, run, _ = trained
    lines = labelled_lines(folder / "test.txt")[:20]
    from_file = run_cli(None, "classify", "predict", run, folder / "test.txt").out.splitlines()[:20]
    stdin = "".join(text + "\n" for _, text in lines).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    result = run_cli(None, "classify", "predict", run, "-")
    assert result.code == 0, result.err
    assert result.out.splitlines() == from_file


def test_eval_counts_add_up_and_agree_with_predict(trained):
    folder, run, _ = trained
    lines = labelled_lines(folder / "test.txt")
    result = run_cli(None, "classify", "eval", run, folder / "test.txt", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    confusion = np.array(report["confusion"])
    assert confusion.sum() == len(lines) == report["examples"]
    predicted = run_cli(None, "classify", "predict", run, folder / "test.txt").out.splitlines()
    assert report["accuracy"] == pytest.approx(np.mean([p == t for p, (t, _) in zip(predicted, lines)]))
    assert np.trace(confusion) / confusion.sum() == pytest.approx(report["accuracy"])
    truth_counts = {label: sum(t == label for t, _ in lines) for label in report["labels"]}
    assert confusion.sum(axis=1).tolist() == [truth_counts[label] for label in report["labels"]]
    assert 0.0 <= report["macro_f1"] <= 1.0

    table = run_cli(None, "classify", "eval", run, folder / "test.txt")
    assert table.code == 0 and "confusion matrix" in table.out and "macro-F1" in table.out


def test_a_saved_model_predicts_exactly_what_the_trained_one_did(tmp_path):
    folder = write_split_folder(tmp_path / "data", train=120, dev=40, test=40)
    options = {"data": folder, "out_dir": tmp_path / "run", "embed_size": 8, "hidden_size": 8, "epochs": 2,
               "batch_size": 16, "threads": 1, "model": "rcnn", "cell": "lstm", "level": "word"}
    summary = session.train(session.prepare(ClassifyOptions(**options)))
    model, vocab = summary["_model"], summary["_vocab"]
    texts = [line.split("\t", 1)[1] for line in (folder / "test.txt").read_text().splitlines()]
    in_memory = predict_probs(model, [encode_text(vocab, t) for t in texts])
    snap = load_classifier(tmp_path / "run" / "best.npz")
    assert snap.vocab == vocab and snap.labels == ["neg", "pos"]
    assert np.array_equal(snap.model.store.data, model.store.data)
    assert np.array_equal(session.predict(snap, texts, threads=1), in_memory)


def test_the_same_seed_repeats_a_run_and_another_seed_does_not(tmp_path):
    folder = write_split_folder(tmp_path / "data", train=120, dev=40, test=0)
    options = {"data": folder, "embed_size": 8, "hidden_size": 8, "epochs": 2, "batch_size": 16, "threads": 1,
               "dropout": 0.3, "level": "word"}

    def losses(seed):
        summary = session.train(session.prepare(ClassifyOptions(**options, seed=seed)))
        return [float(x) for x in summary["_model"].store.data[:50]], summary["best_dev_acc"]

    assert losses(1) == losses(1)
    assert losses(1)[0] != losses(2)[0]


def test_cross_validation_on_a_one_file_per_class_folder(tmp_path):
    folder = write_label_folder(tmp_path / "mr", n=150)
    result = run_cli(None, "classify", "train", folder, "--folds", 3, "--out", tmp_path / "cv", *TINY, "--epochs", 3,
                     "--json", "--quiet")
    assert result.code == 0, result.err
    cv = json.loads(result.out)
    assert cv["folds"] == 3 and len(cv["per_fold"]) == 3
    assert sum(f["test_examples"] for f in cv["per_fold"]) == cv["examples"] == 150
    accs = [f["test_acc"] for f in cv["per_fold"]]
    assert cv["mean_acc"] == pytest.approx(np.mean(accs)) and cv["std_acc"] == pytest.approx(np.std(accs, ddof=1))
    assert json.loads((tmp_path / "cv" / "cv.json").read_text())["mean_acc"] == cv["mean_acc"]
    assert not list((tmp_path / "cv").glob("*.npz"))  # cross-validation measures a recipe; it keeps no model

    table = run_cli(None, "classify", "train", folder, "--folds", 3, *TINY, "--epochs", 1)
    assert table.code == 0 and "±" in table.out and "3-fold" in table.out


def test_the_folds_partition_the_set():
    from charlm.classify.data import folds

    parts = folds(23, 4, np.random.default_rng(0))
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert [p.size for p in parts] == [6, 6, 6, 5]


def test_the_cli_lists_every_cell():
    import inspect
    import typing

    from charlm.cli.classify import train as classify_train
    from charlm.cli.train import train

    for command in (train, classify_train):
        annotation = inspect.signature(command).parameters["cell"].annotation  # Annotated[Optional[enum], option]
        cell_enum = next(a for a in typing.get_args(typing.get_args(annotation)[0]) if a is not type(None))
        assert sorted(c.value for c in cell_enum) == sorted(CELLS)


@pytest.mark.parametrize("command", ["train", "predict", "eval"])
def test_help(command):
    result = run_cli(None, "classify", command, "--help")
    assert result.code == 0 and "Usage" in result.out
