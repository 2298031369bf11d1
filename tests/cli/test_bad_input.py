"""Bad input through the command line: one line on stderr, a non-zero exit, no traceback, and
nothing on disk changed. Each case is a file or option a real user gives charlm by mistake."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path

import pytest

from charlm.store.runfolder import RunFolder
from tests.helpers.cli import TINY, refused, run_cli, tree
from tests.helpers.texts import english_text, write_text


def train_refused(capsys, folder: Path, corpus, *options, fragments=()):
    before = tree(folder)
    result = run_cli(capsys, "train", corpus, "--out", folder / "run", *TINY, "--max-steps", 2, *options)
    refused(result, *fragments)
    assert tree(folder) == before  # no run folder, no checkpoint, nothing rewritten
    return result


# ---------------------------------------------------------------------- files
def test_missing_corpus(tmp_path, capsys):
    train_refused(capsys, tmp_path, tmp_path / "nope.txt", fragments=("nope.txt",))


def test_a_folder_with_nothing_to_read_given_as_the_corpus(tmp_path, capsys):
    (tmp_path / "texts" / ".git").mkdir(parents=True)
    (tmp_path / "texts" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    train_refused(capsys, tmp_path, tmp_path / "texts", fragments=("holds no files", "hidden"))


def test_a_folder_with_no_files_given_to_evaluate(trained_run, tmp_path, capsys):
    _, _, run, _ = trained_run
    (tmp_path / "texts" / ".cache").mkdir(parents=True)
    refused(run_cli(capsys, "eval", run, tmp_path / "texts"), "holds no files")


def test_empty_corpus(tmp_path, capsys):
    (tmp_path / "empty.txt").write_bytes(b"")
    train_refused(capsys, tmp_path, tmp_path / "empty.txt", fragments=("empty",))


def test_binary_corpus_names_the_byte(tmp_path, capsys):
    (tmp_path / "data.bin").write_bytes(b"hello world\n" * 100 + b"\x00\x01\x02" + b"x" * 100)
    train_refused(capsys, tmp_path, tmp_path / "data.bin", fragments=("binary", "1200"))


def test_invalid_utf8_names_offset_and_line_and_suggests_a_fix(tmp_path, capsys):
    (tmp_path / "bad.txt").write_bytes("line one\nline two\n".encode() * 50 + b"caf\xe9\n" + b"more\n" * 20)
    result = train_refused(capsys, tmp_path, tmp_path / "bad.txt", fragments=("UTF-8", "--encoding"))
    assert "line 101" in result.err and "offset 903" in result.err  # 50 * 18 bytes, then "caf"


def test_latin1_text_is_refused_then_trains_with_the_right_encoding(tmp_path, capsys):
    text = english_text(20_000).replace("e", "\u00e9")  # é, one byte in Latin-1 and invalid as UTF-8
    (tmp_path / "latin.txt").write_bytes(text.encode("latin-1"))
    train_refused(capsys, tmp_path, tmp_path / "latin.txt", fragments=("--encoding",))
    ok = run_cli(capsys, "train", tmp_path / "latin.txt", "--out", tmp_path / "run", *TINY, "--max-steps", 2,
                 "--encoding", "latin-1", "--quiet")  # fmt: skip
    assert ok.code == 0, ok.err


def test_a_corpus_shorter_than_one_batch_says_what_is_needed(tmp_path, capsys):
    (tmp_path / "short.txt").write_text("To be, or not to be.\n" * 3)
    train_refused(capsys, tmp_path, tmp_path / "short.txt", "--val-frac", 0, fragments=("--batch-size", "--seq-len"))


def test_an_empty_validation_file(tmp_path, capsys):
    corpus = write_text(tmp_path, 20_000)
    (tmp_path / "val.txt").write_text("")
    train_refused(capsys, tmp_path, corpus, "--val", tmp_path / "val.txt", fragments=("val.txt",))


def test_a_corpus_of_one_repeated_character_trains_to_a_finite_loss_or_is_refused(tmp_path, capsys):
    (tmp_path / "aaa.txt").write_text("a" * 20_000)
    result = run_cli(capsys, "train", tmp_path / "aaa.txt", "--out", tmp_path / "run", *TINY, "--max-steps", 5, "--quiet")
    if result.code == 0:
        rows = RunFolder(tmp_path / "run").read_metrics()
        losses = [r[k] for r in rows for k in ("train_loss", "val_loss") if r.get(k) is not None]
        assert losses and all(math.isfinite(v) for v in losses)
    else:
        refused(result)


def test_astral_characters_are_one_token_each_and_come_back_exactly(tmp_path, capsys):
    text = ("caf\u00e9 \U0001F600 \u4e2d\u6587 \U0001F44D\U0001F3FD \u043f\u0440\u0438\u0432\u0435\u0442\n" * 400)
    (tmp_path / "emoji.txt").write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    assert run_cli(capsys, "train", tmp_path / "emoji.txt", "--out", run, *TINY, "--max-steps", 3, "--quiet").code == 0
    from charlm.lm.models.saved import load_model

    vocab = load_model(run / "last.npz").vocab
    assert "\U0001F600" in vocab and "\U0001F3FD" in vocab  # a skin tone is its own code point
    assert len(vocab) == len(set(text))
    assert vocab.decode(vocab.encode(text)) == text
    sampled = run_cli(capsys, "sample", run, "--prime", "\U0001F600", "--length", 5, "--seed", 1)
    assert sampled.code == 0 and sampled.out.startswith("\U0001F600")


def test_eval_on_text_with_characters_the_model_never_saw_names_them(trained_run, tmp_path, capsys):
    _, _, run, _ = trained_run
    (tmp_path / "new.txt").write_text("ordinary words and a snowman \u2603 here\n", encoding="utf-8")
    refused(run_cli(capsys, "eval", run, tmp_path / "new.txt"), "\u2603", "line 1")


def test_resume_on_a_corpus_with_characters_outside_the_saved_vocabulary(tmp_path, capsys):
    corpus = write_text(tmp_path, 20_000)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", corpus, "--out", run, *TINY, "--max-steps", 2, "--quiet").code == 0
    other = tmp_path / "other.txt"
    other.write_text(english_text(20_000) + "\u2603\u2603\n", encoding="utf-8")
    before = tree(tmp_path)
    result = run_cli(capsys, "train", other, "--out", run, "--resume", "--max-steps", 4)
    refused(result, "\u2603")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("failure", ["full disk at fsync", "read-only folder at open", "full disk for the metrics"])
def test_a_failing_output_folder_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch, failure):
    corpus = write_text(tmp_path, 20_000)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", corpus, "--out", run, *TINY, "--max-steps", 2, "--quiet").code == 0
    before = (run / "last.npz").read_bytes()

    import charlm.store.checkpoint

    if failure == "full disk at fsync":
        def fsync(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(charlm.store.checkpoint.os, "fsync", fsync)
        expected = "No space left on device"
    elif failure == "read-only folder at open":
        real_open = os.open

        def open_(path, *args, **kwargs):
            if ".tmp-" in str(path):
                raise PermissionError(errno.EACCES, "Permission denied")
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(charlm.store.checkpoint.os, "open", open_)
        expected = "Permission denied"
    else:
        real_path_open = Path.open

        def open_metrics(self, mode="r", *args, **kwargs):
            if self.name == "metrics.jsonl" and "a" in mode:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_path_open(self, mode, *args, **kwargs)

        monkeypatch.setattr(Path, "open", open_metrics)
        expected = "metrics.jsonl"
    result = run_cli(capsys, "train", corpus, "--out", run, "--resume", "--max-steps", 4)
    monkeypatch.undo()
    refused(result, expected)
    assert (run / "last.npz").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name not in ("last.npz", "best.npz", "metrics.jsonl")]


# ---------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--seq-len", 0], "--seq-len"),
        (["--batch-size", -1], "--batch-size"),
        (["--lr", "nan"], "--lr"),
        (["--dropout", 1], "--dropout"),
        (["--hidden-size", 0], "--hidden-size"),
        (["--epochs", 0], "--epochs"),
        (["--val-frac", 1.5], "--val-frac"),
        (["--clip-norm", -1], "--clip-norm"),
        (["--cell", "transformer"], "--cell"),
        (["--tie-weights", "--embed-size", 16], "--tie-weights"),
        (["--resume", "--force"], "--resume"),
        (["--stop-lr", -1], "--stop-lr must be 0 (never stop) or a positive number"),
        # the plateau rule's own options, where the rule does not run
        (["--stop-lr", 0.01, "--decay-start", 2], "--stop-lr cannot take effect with --decay-start"),
        (["--min-lr", 0.01, "--decay-patience", 2, "--lr-decay", 1],
         "--decay-patience, --min-lr cannot take effect with --lr-decay 1"),
        (["--stop-lr", 0.01, "--min-lr", 0.02], "--stop-lr 0.01 cannot take effect with --min-lr 0.02"),
        (["--decay-threshold", 1], "--decay-threshold must be in [0, 1)"),
        (["--decay-threshold", -0.1], "--decay-threshold must be in [0, 1)"),
        (["--decay-against", "last"], "'last' is not one of 'best', 'previous'"),
        (["--decay-threshold", 0.01, "--decay-start", 2], "--decay-threshold cannot take effect with --decay-start"),
        (["--decay-against", "previous", "--lr-decay", 1], "--decay-against cannot take effect with --lr-decay 1"),
    ],
)
def test_impossible_training_options_are_refused_before_anything_is_written(tmp_path, capsys, options, fragment):
    corpus = write_text(tmp_path, 20_000)
    train_refused(capsys, tmp_path, corpus, *options, fragments=(fragment,))
