"""``charlm train --softmax adaptive`` through the command line: a word model that learns (its
validation loss falls below the unigram's), evaluates, resumes with its output layer, and refuses
what it cannot do in one line."""

from __future__ import annotations

import json
import math

import pytest

from charlm.lm.models.saved import load_model
from tests.helpers.cli import run_cli
from tests.helpers.texts import PTB_TRAIN, english_text

SMALL = ["--level", "word", "--hidden-size", 32, "--layers", 1, "--seq-len", 20, "--batch-size", 8, "--seed", 1,
         "--threads", 1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    text = PTB_TRAIN.read_text(encoding="utf-8") if PTB_TRAIN.exists() else english_text(2_000_000)
    lines = text.splitlines(keepends=True)
    path = tmp_path_factory.mktemp("adaptive") / "words.txt"
    path.write_text("".join(lines[:3000]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def adaptive_run(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("adaptive-run") / "run"
    result = run_cli(None, "train", corpus, "--out", run, *SMALL, "--softmax", "adaptive", "--cutoffs", "100,500",
                     "--tail-div", 2, "--max-steps", 150, "--quiet")
    assert result.code == 0, result.err
    return run


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_an_adaptive_word_model_learns_and_is_saved_with_its_clusters(adaptive_run, capsys):
    snap = load_model(adaptive_run / "best.npz")
    config = snap.model.config
    assert (config.softmax, config.cutoffs, config.tail_div) == ("adaptive", [100, 500], 2.0)
    history = [r for r in map(json.loads, (adaptive_run / "metrics.jsonl").read_text().splitlines()) if r.get("val_loss")]
    # A uniform guess costs log V nats; after 150 steps the model must do much better.
    assert history[-1]["val_loss"] < math.log(config.vocab_size) - 1.0, history[-1]


def test_eval_and_resume_work_through_the_adaptive_softmax(adaptive_run, corpus, capsys):
    result = run_cli(capsys, "eval", adaptive_run, corpus, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["perplexity"] > 1
    resumed = run_cli(capsys, "train", corpus, "--out", adaptive_run, "--resume", "--max-steps", 160, "--quiet")
    assert resumed.code == 0, resumed.err
    changed = run_cli(capsys, "train", corpus, "--out", adaptive_run, "--resume", "--cutoffs", "100,400")
    assert changed.code != 0 and "--cutoffs cannot change when resuming" in changed.err


def test_dynamic_evaluation_and_inspect_read_the_adaptive_softmax(adaptive_run, corpus, tmp_path, capsys):
    passage = tmp_path / "passage.txt"
    passage.write_text(" ".join(corpus.read_text(encoding="utf-8").split()[:60]) + "\n", encoding="utf-8")
    passage.write_text(passage.read_text(encoding="utf-8") * 6, encoding="utf-8")  # repeated: adaptation pays
    result = run_cli(capsys, "eval", adaptive_run, passage, "--dynamic", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dynamic"]["loss"] < report["static"]["loss"], report
    shown = run_cli(capsys, "inspect", adaptive_run, passage)
    assert shown.code == 0, shown.err
    assert "bits" in shown.out


def test_sample_draws_words_of_the_vocabulary(adaptive_run, capsys):
    vocab = set(load_model(adaptive_run / "best.npz").vocab.tokens)
    result = run_cli(capsys, "sample", adaptive_run, "--length", 40, "--seed", 3, "--prime", "the")
    assert result.code == 0, result.err
    words = result.out.split()
    assert len(words) >= 30 and set(words) <= vocab | {"<eos>"}


def test_a_beam_of_one_is_greedy_through_the_adaptive_softmax(adaptive_run, capsys):
    greedy = run_cli(capsys, "sample", adaptive_run, "--greedy", "--prime", "the", "--length", 25)
    beam = run_cli(capsys, "sample", adaptive_run, "--beam", 1, "--prime", "the", "--length", 25)
    assert beam.code == 0 and greedy.code == 0, beam.err + greedy.err
    assert beam.out == greedy.out
    assert len(beam.out.split()) + beam.out.count("\n") >= 26  # 25 tokens after the prime (<eos>: a new line)


def test_export_writes_both_graphs(adaptive_run, tmp_path, capsys):
    pytest.importorskip("onnx", reason="the onnx package is not installed (pip install -e '.[test]')")
    exported = run_cli(capsys, "export", adaptive_run, tmp_path / "m.onnx")
    assert exported.code == 0, exported.err
    assert (tmp_path / "m.onnx").stat().st_size > 0 and (tmp_path / "m.step.onnx").stat().st_size > 0


@pytest.mark.parametrize("args, fragment", [
    (["--level", "char", "--softmax", "adaptive"], "--softmax adaptive is for word-level models"),
    (["--level", "word", "--tail-div", 2], "--tail-div is for --softmax adaptive"),
    (["--level", "word", "--cutoffs", "100,500"], "--cutoffs is for --softmax adaptive"),
    (["--level", "word", "--softmax", "adaptive", "--cutoffs", "500,100"], "must be positive and increasing"),
    (["--level", "word", "--softmax", "adaptive", "--cutoffs", "100,x"], "integers separated by commas"),
    (["--level", "word", "--softmax", "adaptive", "--cutoffs", "100,900000"], "must stay below the vocabulary size"),
    (["--level", "word", "--softmax", "adaptive", "--tie-weights"], "--tie-weights cannot be used with --softmax adaptive"),
])
def test_impossible_options_are_refused_by_name(corpus, tmp_path, capsys, args, fragment):
    result = run_cli(capsys, "train", corpus, "--out", tmp_path / "run", "--max-steps", 1, *args)
    assert result.code != 0 and fragment in result.err and "Traceback" not in result.err
    assert not (tmp_path / "run").exists()
