"""`charlm train --resume` does what the user says: an option given wins (and the summary says what
changed), stop rules are totals or this invocation's budget, and what cannot change is refused by
name. In-process runs of the real command on a small corpus."""

from __future__ import annotations

import pytest

from charlm.lm.models.saved import load_model
from tests.helpers.cli import TINY, run_cli
from tests.helpers.texts import write_text

# 3,000 characters in 8 streams of 32-token windows: 12 windows an epoch.
SMALL = [*TINY, "--epochs", 2, "--threads", 1, "--quiet"]


@pytest.fixture()
def corpus(tmp_path):
    return write_text(tmp_path, 3_000)


def progress(run):
    return load_model(run / "last.npz").meta["progress"]


def test_a_run_stopped_by_max_steps_resumed_alone_trains_on_to_its_epochs(tmp_path, corpus):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 5).code == 0
    assert progress(run)["step"] == 5
    resumed = run_cli(None, "train", corpus, "--out", run, "--resume", "--quiet")
    assert resumed.code == 0, resumed.err
    assert "(completed)" in resumed.out
    whole = tmp_path / "whole"
    assert run_cli(None, "train", corpus, "--out", whole, *SMALL).code == 0
    # Both epochs done, as by an uninterrupted run; not stopped again at step 5.
    assert progress(run)["step"] == progress(whole)["step"] > 5 and progress(run)["epoch"] == 3


def test_max_steps_on_resume_is_a_total(tmp_path, corpus):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 5).code == 0
    assert run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 8, "--quiet").code == 0
    assert progress(run)["step"] == 8


def test_a_learning_rate_given_on_resume_is_used_and_reported(tmp_path, corpus):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 3).code == 0
    resumed = run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 6, "--lr", 0.5, "--quiet")
    assert resumed.code == 0, resumed.err
    assert "--lr 0.01 -> 0.5" in resumed.out
    snap = load_model(run / "last.npz")
    assert snap.meta["progress"]["lr"] == 0.5 and snap.meta["train"]["lr"] == 0.5
    # Nothing given: nothing reported as changed.
    off = run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 7, "--clip-norm", 0, "--quiet")
    assert off.code == 0 and "--clip-norm 5 -> none" in off.out, off.out
    again = run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 8, "--quiet")
    assert again.code == 0 and "resumed with" not in again.out
    assert load_model(run / "last.npz").meta["progress"]["lr"] == 0.5


def test_another_thread_count_on_resume_is_taken_with_a_note_that_it_leaves_the_exact_path(tmp_path, corpus):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 3).code == 0
    resumed = run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 5, "--threads", 2, "--quiet")
    assert resumed.code == 0, resumed.err
    assert "note: resuming on --threads 2 where the run had 1 thread:" in resumed.err
    assert load_model(run / "last.npz").meta["train"]["threads"] == 2
    # Its own count again, given or kept: nothing to say.
    for steps, given in ((6, ["--threads", 2]), (7, [])):
        again = run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", steps, *given, "--quiet")
        assert again.code == 0 and "note:" not in again.err, again.err


def test_the_thread_note_for_a_run_saved_with_every_core():
    from charlm.core.threads import available_cores, thread_change_note

    assert thread_change_note(None, available_cores()) is None  # assumed to be this machine's cores
    assert "where the run had every core of its machine" in thread_change_note(None, available_cores() + 1)
    assert thread_change_note(3, None) is None and thread_change_note(3, 3) is None


@pytest.mark.parametrize("option, value, saved", [("--optimizer", "sgd", "adam"), ("--seed", 7, "0"),
                                                  ("--batch-size", 4, "8")])
def test_what_cannot_change_under_a_resumed_run_is_refused_by_name(tmp_path, corpus, option, value, saved):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 3).code == 0
    before = (run / "last.npz").read_bytes()
    refused = run_cli(None, "train", corpus, "--out", run, "--resume", option, value)
    assert refused.code == 2
    line = refused.err.strip()
    assert "\n" not in line and f"{option} cannot change when resuming" in line and saved in line, line
    assert (run / "last.npz").read_bytes() == before


@pytest.mark.slow  # 2.2 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_max_time_is_the_budget_of_each_invocation(tmp_path):
    corpus = write_text(tmp_path, 40_000)
    run = tmp_path / "run"
    common = [*TINY, "--epochs", 1000, "--threads", 1, "--quiet"]
    assert run_cli(None, "train", corpus, "--out", run, *common, "--max-time", "1s").code == 0
    first = progress(run)
    assert run_cli(None, "train", corpus, "--out", run, "--resume", "--max-time", "1s", "--quiet").code == 0
    second = progress(run)
    # A second second of training, not one more window past the first run's clock.
    assert second["elapsed_s"] - first["elapsed_s"] >= 1.0
    assert second["step"] > first["step"] + 1


def test_a_resumed_run_refuses_data_other_than_the_data_it_stopped_on(tmp_path, corpus):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 3).code == 0
    before = (run / "last.npz").read_bytes()
    text = corpus.read_text()
    # The same characters, two of them swapped: the same size, other content.
    i = text.index(" ")
    j = next(k for k in range(i + 1, len(text)) if text[k] not in (" ", text[i]))
    swapped = list(text)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    corpus.write_text("".join(swapped))
    refused = run_cli(None, "train", corpus, "--out", run, "--resume")
    assert refused.code == 2 and "the training text is not the one the run stopped on" in refused.err, refused.err
    assert "other content" in refused.err
    corpus.write_text(text)
    other_split = run_cli(None, "train", corpus, "--out", run, "--resume", "--val-frac", 0.2)
    assert other_split.code == 2 and "is not the one the run stopped on" in other_split.err
    assert (run / "last.npz").read_bytes() == before
    # The same data again: it resumes.
    assert run_cli(None, "train", corpus, "--out", run, "--resume", "--max-steps", 4, "--quiet").code == 0


def test_vocabulary_options_on_resume_are_refused_not_ignored(tmp_path):
    corpus = write_text(tmp_path, 3_000)
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--level", "word", "--seq-len", 4, "--max-steps", 2).code == 0
    refused = run_cli(None, "train", corpus, "--out", run, "--resume", "--min-freq", 3)
    assert refused.code == 2 and "--min-freq cannot change when resuming" in refused.err, refused.err
    same = run_cli(None, "train", corpus, "--out", run, "--resume", "--min-freq", 1, "--max-steps", 3, "--quiet")
    assert same.code == 0, same.err
