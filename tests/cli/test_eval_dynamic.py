"""`charlm eval --dynamic` as a user runs it: static and dynamic figures side by side from one
stream, a repeated passage learned while reading, tuning on validation text only, the RMS rule's
statistics, the checkpoint untouched, and every option that cannot take effect refused."""

from __future__ import annotations

import json

import pytest

from charlm.lm.measure.dynamic_file import GRIDS
from tests.helpers.cli import run_cli


@pytest.fixture(scope="module")
def texts(trained_run):
    folder, corpus, run, result = trained_run
    assert result.code == 0, result.err
    text = corpus.read_text(encoding="utf-8")
    passage = text[-60:]
    repeated = folder / "repeated.txt"
    repeated.write_text(passage * 15, encoding="utf-8")  # a model this small learns a short passage
    valid = folder / "dyn-valid.txt"
    valid.write_text(text[-4000:-2500], encoding="utf-8")
    return run, corpus, repeated, valid, len(passage)


def dynamic_json(capsys, *args) -> dict:
    result = run_cli(capsys, "eval", *args, "--dynamic", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_the_static_column_is_plain_evaluation_in_one_stream_and_a_repeat_is_learned(texts, capsys):
    run, _, repeated, _, _ = texts
    report = dynamic_json(capsys, run, repeated, "--lr", 1, "--decay", 0)
    plain = json.loads(run_cli(capsys, "eval", run, repeated, "--batch-size", 1, "--seq-len", 20, "--json").out)
    assert report["static"]["tokens"] == report["dynamic"]["tokens"] == plain["tokens"]
    assert report["static"]["loss"] == pytest.approx(plain["loss"], rel=1e-6)
    assert report["seq_len"] == 20 and report["rule"] == "sgd"  # the character default, the SGD rule without --stats
    # The passage is read 15 times: an adapting model has read it and must do much better (measured:
    # 0.61 of the static loss on Shakespeare, 0.71 on the bundled corpus of a user's clone).
    assert report["dynamic"]["loss"] < 0.85 * report["static"]["loss"]
    assert report["dynamic"]["tokens_per_second"] > 0 and report["static"]["tokens_per_second"] > 0


def test_the_checkpoint_on_disk_is_unchanged(texts, capsys):
    run, _, repeated, _, _ = texts
    checkpoints = sorted(run.glob("*.npz"))
    before = {path: path.read_bytes() for path in checkpoints}
    first = dynamic_json(capsys, run, repeated, "--lr", 1.0)
    assert {path: path.read_bytes() for path in checkpoints} == before
    # And the weights in memory were restored: the same command gives the same figures.
    assert dynamic_json(capsys, run, repeated, "--lr", 1.0)["dynamic"]["loss"] == first["dynamic"]["loss"]


@pytest.mark.slow  # 0.9 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_tune_chooses_the_best_of_the_grid_on_validation_text_and_keeps_a_given_value(texts, capsys):
    run, _, repeated, valid, _ = texts
    report = dynamic_json(capsys, run, repeated, "--tune", valid)
    trials = report["tuning"]["trials"]
    assert report["tuning"]["file"] == str(valid)
    assert len(trials) == len(GRIDS["sgd"]["lr"]) * len(GRIDS["sgd"]["decay"])
    best = min(trials, key=lambda t: t["loss"])
    assert (report["lr"], report["decay"]) == (best["lr"], best["decay"])
    fixed = dynamic_json(capsys, run, repeated, "--tune", valid, "--lr", 0.05)
    assert {t["lr"] for t in fixed["tuning"]["trials"]} == {0.05} and fixed["lr"] == 0.05
    table = run_cli(capsys, "eval", run, repeated, "--dynamic", "--tune", valid, "--lr", 0.05)
    assert table.code == 0 and "(chosen)" in table.out and "static" in table.out and "dynamic" in table.out


def test_stats_select_the_rms_rule_from_training_windows(texts, capsys):
    run, corpus, repeated, _, _ = texts
    report = dynamic_json(capsys, run, repeated, "--stats", corpus, "--stats-windows", 3, "--seq-len", 10)
    assert report["rule"] == "rms" and report["stats"]["windows"] == 3 and report["seq_len"] == 10
    assert report["dynamic"]["loss"] < report["static"]["loss"]


@pytest.mark.parametrize("args, named", [
    (["--lr", 0.1], "--lr takes effect only with --dynamic"),
    (["--tune", "x.txt", "--decay", 0.1], "--decay, --tune take effect only with --dynamic"),
    (["--dynamic", "--batch-size", 4], "--batch-size"),
    (["--dynamic", "--stats-windows", 4], "--stats-windows needs --stats"),
    (["--dynamic", "--decay", 1], "--decay"),
    (["--dynamic", "--lr", -1], "--lr"),
])
def test_options_that_cannot_take_effect_are_refused_by_name(texts, capsys, args, named):
    run, _, repeated, _, _ = texts
    result = run_cli(capsys, "eval", run, repeated, *args)
    assert result.code != 0 and named in result.err and "Traceback" not in result.err


def test_an_unknown_character_in_the_validation_text_is_named_with_its_file(texts, capsys, tmp_path):
    run, _, repeated, _, _ = texts
    bad = tmp_path / "valid.txt"
    bad.write_text("the \u2603 snowman", encoding="utf-8")
    result = run_cli(capsys, "eval", run, repeated, "--dynamic", "--tune", bad)
    assert result.code != 0 and "valid.txt" in result.err and "\u2603" in result.err
