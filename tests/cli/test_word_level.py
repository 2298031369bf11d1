"""Word level through the CLI: a folder of PTB-named splits (slices of the real Penn Treebank when
../shared is beside the repository, else of the bundled corpus), trained, evaluated and sampled."""

from __future__ import annotations

import json

import pytest

from charlm.lm.models.saved import load_model
from tests.helpers.cli import run_cli
from tests.helpers.texts import PTB_TRAIN, english_text


def _lines(n_lines: int, skip: int = 0) -> str:
    if PTB_TRAIN.exists():
        lines = PTB_TRAIN.read_text(encoding="utf-8").splitlines(keepends=True)
    else:
        lines = english_text(2_000_000).splitlines(keepends=True)
    return "".join(lines[skip : skip + n_lines])


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("word")
    data = folder / "ptb"
    data.mkdir()
    (data / "ptb.train.txt").write_text(_lines(3000), encoding="utf-8")
    (data / "ptb.valid.txt").write_text(_lines(300, skip=3000), encoding="utf-8")
    (data / "ptb.test.txt").write_text(_lines(300, skip=3300), encoding="utf-8")
    run = folder / "run"
    result = run_cli(
        None, "train", data, "--out", run, "--level", "word", "--min-freq", 2, "--hidden-size", 32, "--layers", 1,
        "--seq-len", 20, "--batch-size", 8, "--epochs", 1, "--lr", 0.01, "--quiet", "--seed", 1,
    )  # fmt: skip
    return folder, data, run, result


@pytest.mark.slow  # 0.8 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_folder_of_ptb_splits_trains_a_word_model_and_reports_test_perplexity(word_run):
    _, data, run, result = word_run
    assert result.code == 0, result.err
    snap = load_model(run / "best.npz")
    vocab = snap.vocab
    assert vocab.level == "word" and vocab.tokens[:2] == ("<unk>", "<eos>")
    # --min-freq 2: every kept word occurs at least twice in the training split.
    train_words = (data / "ptb.train.txt").read_text(encoding="utf-8").split()
    counts = {w: train_words.count(w) for w in vocab.tokens[2:50]}
    assert min(counts.values()) >= 2
    assert "test perplexity" in result.out  # the test split was found and evaluated
    assert "<unk>" not in result.err


def test_eval_of_a_word_model_reports_perplexity_and_the_oov_rate(word_run, capsys):
    _, data, run, _ = word_run
    report = json.loads(run_cli(capsys, "eval", run, data / "ptb.test.txt", "--json").out)
    words = (data / "ptb.test.txt").read_text(encoding="utf-8").split()
    lines = (data / "ptb.test.txt").read_text(encoding="utf-8").count("\n")
    assert report["level"] == "word"
    assert report["tokens"] == len(words) + lines - 1  # one <eos> per line; the first token is never predicted
    assert 0 < report["oov_rate"] < 0.5
    assert 1 < report["perplexity"] < 10_000  # the vocabulary is a few thousand words: it learned a little


def test_word_samples_are_words_of_the_vocabulary(word_run, capsys):
    _, _, run, _ = word_run
    result = run_cli(capsys, "sample", run, "--length", 80, "--seed", 2, "--prime", "the")
    assert result.code == 0, result.err
    vocab = load_model(run / "best.npz").vocab
    words = result.out.split()
    assert words[0] == "the" and len(words) + result.out.count("\n") >= 80 - 1
    assert set(words) <= set(vocab.tokens)


def test_an_unknown_prime_word_is_read_as_unk_with_a_note(word_run, capsys):
    _, _, run, _ = word_run
    result = run_cli(capsys, "sample", run, "--length", 10, "--seed", 2, "--prime", "the zzyzxq")
    assert result.code == 0, result.err
    assert result.out.startswith("the zzyzxq ")
    assert "1 word(s) of --prime" in result.err and "<unk>" in result.err


def test_a_word_models_validation_line_says_its_perplexity_once(word_run):
    folder, data, _, _ = word_run
    result = run_cli(None, "train", data, "--out", folder / "shown", "--level", "word", "--min-freq", 2,
                     "--hidden-size", 16, "--layers", 1, "--seq-len", 20, "--batch-size", 8, "--max-steps", 2)
    assert result.code == 0, result.err
    lines = [line for line in (result.out + result.err).splitlines() if line.startswith("validation at step")]
    assert lines and all(line.count("ppl") + line.count("perplexity") == 1 for line in lines), lines
