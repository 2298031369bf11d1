"""Pipes given where charlm reads a text more than once (train's corpus, --val, --test; eval's
and inspect's file, dynamic evaluation's --stats and --tune; a tree model's data): refused in one
line naming the pipe, before anything waits on it, instead of a FIFO waited on forever or a
`<(command)` called empty. A classifier's data, read once, may come from a pipe."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.helpers.classify_texts import TINY as CLASSIFY_TINY, write_labelled
from tests.helpers.cli import TINY, refused, run_cli, run_subprocess, tree
from tests.helpers.texts import english_text

if sys.platform == "win32" or not Path("/dev/fd").is_dir():  # pragma: no cover
    pytest.skip("named pipes and /dev/fd", allow_module_level=True)


@pytest.fixture
def pipe():
    """pipe(text): a path like the one `<(command)` gives: an anonymous pipe holding ``text``
    (less than a pipe's buffer), its writer already gone."""
    opened = []

    def make(text: str) -> Path:
        read, write = os.pipe()
        opened.append(read)
        os.write(write, text.encode("utf-8"))
        os.close(write)
        return Path(f"/dev/fd/{read}")

    yield make
    for fd in opened:
        os.close(fd)


def test_a_corpus_from_a_pipe_is_refused_by_name_not_called_empty(tmp_path, pipe):
    text = english_text(20_000)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    before = tree(tmp_path)
    for args in ([pipe(text)], [corpus, "--val", pipe(text)], [corpus, "--test", pipe(text)], [corpus, pipe(text)]):
        result = run_cli(None, "train", *args, "--out", tmp_path / "run", *TINY, "--max-steps", 2)
        refused(result, "/dev/fd/", "is a pipe", "save the text to one first")
        assert "empty" not in result.err
    assert tree(tmp_path) == before


def test_standard_input_is_refused_with_what_to_do(tmp_path):
    result = run_cli(None, "train", "-", "--out", tmp_path / "run", *TINY)
    refused(result, "- (standard input) cannot be read here", "save it to a file first")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # a charlm process of its own (seconds to start)
def test_a_named_fifo_nobody_writes_to_is_refused_at_once(tmp_path):
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)
    # A subprocess: before the fix it waited on the FIFO forever (here: until the timeout).
    result = run_subprocess("train", fifo, "--out", tmp_path / "run", *TINY, timeout=60)
    refused(result, "corpus.fifo is a pipe")


def test_eval_inspect_and_dynamic_evaluation_refuse_a_pipe(trained_run, pipe, tmp_path):
    _, corpus, run, _ = trained_run
    text = corpus.read_text(encoding="utf-8")[:5000]
    for args in (["eval", run, pipe(text)], ["eval", run, "-"], ["inspect", run, pipe(text)],
                 ["eval", run, corpus, "--dynamic", "--stats", pipe(text)],
                 ["eval", run, corpus, "--dynamic", "--tune", pipe(text)]):
        result = run_cli(None, *args)
        refused(result, "cannot be read here" if "-" in args else "is a pipe")


def test_a_tree_model_refuses_a_pipe(pipe, tmp_path):
    result = run_cli(None, "classify", "train", pipe("(3 (2 a) (4 b))\n" * 20), "--model", "treernn",
                     "--out", tmp_path / "run")
    refused(result, "is a pipe")


def test_a_classifiers_data_read_once_may_come_from_a_pipe(pipe, tmp_path):
    text = write_labelled(tmp_path / "data.txt", 60, 0).read_text(encoding="utf-8")
    result = run_cli(None, "classify", "train", pipe(text), "--out", tmp_path / "run", *CLASSIFY_TINY)
    assert result.code == 0, result.err
    result = run_cli(None, "classify", "eval", tmp_path / "run", pipe(text))
    assert result.code == 0, result.err and "accuracy" in result.out
