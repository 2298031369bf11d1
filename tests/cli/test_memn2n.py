"""``charlm train --model memn2n`` through the command line: the authors' recipe as defaults, a
model that learns, evaluates the same whatever the streams, samples, resumes bit for bit, and
refuses by name what it cannot do."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from charlm.errors import DataError
from charlm.lm.models.kinds import kind_of
from charlm.lm.models.saved import load_model
from tests.helpers.cli import run_cli
from tests.helpers.texts import PTB_TRAIN, english_text
from tests.helpers.paths import REPO

SMALL = ["--level", "word", "--model", "memn2n", "--hidden-size", 24, "--memory", 12, "--hops", 2, "--seed", 1,
         "--threads", 1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    text = PTB_TRAIN.read_text(encoding="utf-8") if PTB_TRAIN.exists() else english_text(2_000_000)
    path = tmp_path_factory.mktemp("memn2n") / "words.txt"
    path.write_text("".join(text.splitlines(keepends=True)[:2000]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def memn2n_run(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("memn2n-run") / "run"
    result = run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 400, "--eval-every", 400, "--quiet")
    assert result.code == 0, result.err
    return run


@pytest.mark.slow  # 3.2 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_new_run_takes_the_authors_recipe_unless_told_otherwise(memn2n_run, corpus, tmp_path):
    snap = load_model(memn2n_run / "best.npz")
    config, train = snap.model.config, snap.meta["train"]
    assert (config.model, config.memory, config.hops, config.linear_units) == ("memn2n", 12, 2, 12)
    assert (train["seq_len"], train["batch_size"], train["optimizer"]) == (1, 128, "sgd")
    assert train["lr"] == pytest.approx(1.28) and train["clip_norm"] == pytest.approx(50 / 128)
    assert train["lr_decay"] == pytest.approx(1 / 1.5) and train["epochs"] == 100
    assert train["stop_lr"] == pytest.approx(1e-5 * 128)  # their end: the rate below 1e-5 on the summed loss
    # their annealing: a validation must be 0.01% below the previous one
    assert (train["decay_against"], train["decay_threshold"]) == ("previous", 1e-4)
    assert train["positions"] == "random"  # each batch's targets drawn anywhere in the text
    adam = tmp_path / "adam"
    result = run_cli(None, "train", corpus, "--out", adam, *SMALL, "--optimizer", "adam", "--max-steps", 1, "--quiet")
    assert result.code == 0, result.err
    adam_train = load_model(adam / "last.npz").meta["train"]
    assert adam_train["lr"] == 0.002 and adam_train["stop_lr"] == 0  # adam's own rate, and no end set for sgd's
    epochs = tmp_path / "epochs"
    result = run_cli(None, "train", corpus, "--out", epochs, *SMALL, "--decay-start", 2, "--max-steps", 1, "--quiet")
    assert result.code == 0, result.err  # an epoch schedule has no plateau rule to end or steer
    epochs_train = load_model(epochs / "last.npz").meta["train"]
    assert (epochs_train["stop_lr"], epochs_train["decay_against"], epochs_train["decay_threshold"]) == (0, "best", 0)


def test_it_learns(memn2n_run):
    snap = load_model(memn2n_run / "best.npz")
    history = [json.loads(line) for line in (memn2n_run / "metrics.jsonl").read_text().splitlines()]
    val = [r["val_loss"] for r in history if r.get("val_loss") is not None]
    # A uniform guess costs log V nats; after 400 steps the model must do much better.
    assert val[-1] < math.log(snap.model.config.vocab_size) - 1.0, val


@pytest.mark.slow  # 1.7 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_eval_is_the_same_whatever_the_streams(memn2n_run, corpus, capsys):
    """Each stream starts with the memory of the text before it: the streams are one reader."""
    losses = []
    for batch, seq in ((1, 50), (7, 3), (32, 1)):
        result = run_cli(capsys, "eval", memn2n_run, corpus, "--json", "--batch-size", batch, "--seq-len", seq)
        assert result.code == 0, result.err
        losses.append(json.loads(result.out)["loss"])
    assert losses[1] == pytest.approx(losses[0], rel=1e-5) and losses[2] == pytest.approx(losses[0], rel=1e-5)


def test_sample_and_info(memn2n_run, capsys):
    vocab = set(load_model(memn2n_run / "best.npz").vocab.tokens)
    first = run_cli(capsys, "sample", memn2n_run, "--length", 30, "--seed", 3, "--prime", "the company")
    again = run_cli(capsys, "sample", memn2n_run, "--length", 30, "--seed", 3, "--prime", "the company")
    assert first.code == 0, first.err
    assert first.out == again.out
    words = first.out.split()
    assert len(words) >= 25 and set(words) <= vocab | {"<eos>"}
    info = run_cli(capsys, "info", memn2n_run)
    assert info.code == 0 and "memn2n 24, 2 hops over 12 tokens" in info.out


@pytest.mark.slow  # 1.4 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("positions", ["streams", "random"])
def test_a_resumed_run_is_the_uninterrupted_run(corpus, tmp_path, positions):
    whole, split = tmp_path / "whole", tmp_path / "split"
    args = [*SMALL, "--batch-size", 8, "--seq-len", 5, "--positions", positions, "--quiet"]
    assert run_cli(None, "train", corpus, "--out", whole, *args, "--max-steps", 30).code == 0
    assert run_cli(None, "train", corpus, "--out", split, *args, "--max-steps", 13).code == 0
    assert run_cli(None, "train", corpus, "--out", split, "--resume", "--max-steps", 30, "--quiet").code == 0
    a, b = load_model(whole / "last.npz"), load_model(split / "last.npz")
    for name, array in a.model.params.items():
        np.testing.assert_array_equal(array, b.model.params[name], err_msg=name)
    np.testing.assert_array_equal(a.carried_state()[0][0], b.carried_state()[0][0])
    assert a.carried_state()[0][0].dtype == np.int64


@pytest.mark.parametrize("args, fragment", [
    (["--model", "memn2n", "--cell", "gru", "--layers", 3], "--cell, --layers cannot take effect with --model memn2n"),
    (["--model", "memn2n", "--dropout", 0.2], "--dropout cannot take effect with --model memn2n"),
    (["--model", "memn2n", "--tie-weights"], "--tie-weights cannot take effect with --model memn2n"),
    (["--model", "memn2n", "--bptt", "full"], "--bptt cannot take effect with --model memn2n"),
    (["--model", "memn2n", "--freeze-embedding"], "--freeze-embedding cannot take effect with --model memn2n"),
    (["--hops", 3], "--hops is for --model memn2n"),
    (["--positions", "random"], "--positions random cannot take effect with a recurrent model"),
    (["--model", "memn2n", "--positions", "anywhere"], "'anywhere' is not one of 'streams', 'random'"),
    (["--memory", 5, "--linear-units", 2], "--memory, --linear-units is for --model memn2n"),
    (["--model", "memn2n", "--linear-units", 500], "--linear-units must be an integer from 0 to the hidden size 150"),
    (["--model", "memn2n", "--memory", 0], "--memory must be a positive integer"),
    (["--model", "memn2n", "--memory", 10**6], "--memory 1000000 is longer than the training text"),
])
def test_impossible_options_are_refused_by_name(corpus, tmp_path, args, fragment):
    result = run_cli(None, "train", corpus, "--out", tmp_path / "run", "--level", "word", "--max-steps", 1, *args)
    assert result.code != 0 and fragment in result.err and "Traceback" not in result.err
    assert not (tmp_path / "run").exists()


def refuse_memory_beyond_text(config, n_train_tokens):
    kind_of(config).check_text(config, n_train_tokens)  # the kind's own check of a training text


def test_the_memory_may_hold_every_token_before_the_last_target():
    refuse_memory_beyond_text(SimpleNamespace(model="memn2n", memory=299), 300)  # the last target: all 299 before
    with pytest.raises(DataError, match="at most 299 tokens come before a target"):
        refuse_memory_beyond_text(SimpleNamespace(model="memn2n", memory=300), 300)
    refuse_memory_beyond_text(SimpleNamespace(model="rnn", memory=300), 300)  # a recurrent model has none to fill


def test_a_beam_of_one_is_greedy_decoding(memn2n_run, capsys):
    greedy = run_cli(capsys, "sample", memn2n_run, "--greedy", "--prime", "the", "--length", 20)
    beam = run_cli(capsys, "sample", memn2n_run, "--beam", 1, "--prime", "the", "--length", 20)
    assert beam.code == 0 and greedy.code == 0, beam.err + greedy.err
    assert beam.out == greedy.out and len(beam.out.split()) + beam.out.count("\n") >= 21


def test_the_onnx_example_reproduces_greedy_sampling(memn2n_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[test]')")
    example = REPO / "examples" / "onnx_sample.py"
    exported = run_cli(capsys, "export", memn2n_run, tmp_path / "m.onnx")
    assert exported.code == 0, exported.err
    ours = run_cli(capsys, "sample", memn2n_run, "--greedy", "--prime", "the company", "--length", 40)
    theirs = subprocess.run([sys.executable, str(example), str(tmp_path / "m.step.onnx"), "--prime", "the company",
                             "--length", "40", "--greedy"], capture_output=True, text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == ours.out and len(ours.out.split()) + ours.out.count("\n") >= 40


@pytest.mark.slow  # 0.7 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_fine_tuning_keeps_the_network_and_refuses_dropout(memn2n_run, corpus, tmp_path):
    refused = run_cli(None, "train", corpus, "--out", tmp_path / "a", "--init-from", memn2n_run, "--dropout", 0.3)
    assert refused.code != 0 and "a memn2n model has no dropout" in refused.err
    tuned = run_cli(None, "train", corpus, "--out", tmp_path / "b", "--init-from", memn2n_run, "--max-steps", 2,
                    "--quiet")
    assert tuned.code == 0, tuned.err
    assert load_model(tmp_path / "b" / "last.npz").model.config.model == "memn2n"


def test_fine_tuning_refuses_a_text_shorter_than_the_checkpoints_memory(memn2n_run, corpus, tmp_path):
    words = corpus.read_text(encoding="utf-8").split()
    val = tmp_path / "val.txt"
    val.write_text(" ".join(words[100:140]) + "\n", encoding="utf-8")
    tune = ["--init-from", memn2n_run, "--val", val, "--batch-size", 1, "--seq-len", 1,
            "--max-steps", 1, "--quiet"]
    short = tmp_path / "short.txt"  # 12 tokens with the line's <eos>: the memory (12) has 11 before the last target
    short.write_text(" ".join(words[:11]) + "\n", encoding="utf-8")
    refused = run_cli(None, "train", short, "--out", tmp_path / "a", *tune)
    assert refused.code != 0 and "Traceback" not in refused.err
    assert "the memory of" in refused.err and "(12 tokens) is longer than the training text (12 tokens)" in refused.err
    assert not (tmp_path / "a").exists()
    enough = tmp_path / "enough.txt"  # one token more: the last target has all 12 slots filled
    enough.write_text(" ".join(words[:12]) + "\n", encoding="utf-8")
    tuned = run_cli(None, "train", enough, "--out", tmp_path / "b", *tune)
    assert tuned.code == 0, tuned.err


def test_inspect_shows_each_hops_attention_over_the_memory(memn2n_run, corpus, capsys):
    result = run_cli(capsys, "inspect", memn2n_run, corpus, "--limit", 60, "--attention", 20, "--unit", "1:5", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    words = [r["token"] for r in report["records"]]
    hops = report["attention"]["hops"]
    assert report["attention"]["position"] == 20 and len(hops) == 2  # --hops 2
    for slots in hops:
        assert sum(s["weight"] for s in slots) == pytest.approx(1.0, abs=1e-3)
        assert sorted(s["back"] for s in slots) == list(range(12))  # --memory 12: every slot filled at 20
        assert all(s["token"] == words[20 - s["back"]] for s in slots)
        assert [s["weight"] for s in slots] == sorted((s["weight"] for s in slots), reverse=True)
    assert set(report["records"][20]["unit"]) == {"h"}  # a hop's query is its one value
    shown = run_cli(capsys, "inspect", memn2n_run, corpus, "--limit", 60, "--attention", 3)
    assert shown.code == 0 and "attention at position 3" in shown.out


@pytest.mark.parametrize("args, fragment", [
    (["--attention", 60], "--attention 60: the text inspected has positions 0..59"),
    (["--unit", "2:0"], "layer 2 is out of range"),
    (["--unit", "0:1", "--value", "c"], "a memn2n model has h"),
])
def test_inspect_refuses_what_the_memory_network_does_not_have(memn2n_run, corpus, capsys, args, fragment):
    result = run_cli(capsys, "inspect", memn2n_run, corpus, "--limit", 60, *args)
    assert result.code != 0 and fragment in result.err and "Traceback" not in result.err


def test_attention_is_refused_for_a_recurrent_model(corpus, tmp_path, capsys):
    run = tmp_path / "rnn"
    assert run_cli(None, "train", corpus, "--out", run, "--level", "word", "--hidden-size", 8, "--layers", 1,
                   "--max-steps", 1, "--quiet").code == 0
    result = run_cli(capsys, "inspect", run, corpus, "--limit", 60, "--attention", 3)
    assert result.code != 0 and "--attention is for memn2n models" in result.err


def test_dynamic_evaluation_adapts_it(memn2n_run, corpus, tmp_path, capsys):
    passage = tmp_path / "passage.txt"
    words = " ".join(corpus.read_text(encoding="utf-8").split()[:50])
    passage.write_text((words + "\n") * 6, encoding="utf-8")  # repeated: adaptation pays
    result = run_cli(capsys, "eval", memn2n_run, passage, "--dynamic", "--json", "--lr", 0.5)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dynamic"]["loss"] < report["static"]["loss"], report


def test_each_training_stream_starts_with_the_memory_of_the_text_before_it(corpus, tmp_path):
    from charlm.lm.measure.evaluate import encode_for_scoring

    run = tmp_path / "run"
    result = run_cli(None, "train", corpus, "--out", run, *SMALL, "--batch-size", 4, "--seq-len", 1, "--max-steps", 1,
                     "--val-frac", 0, "--positions", "streams", "--quiet")
    assert result.code == 0, result.err
    snap = load_model(run / "last.npz")
    tokens = encode_for_scoring(corpus, snap.vocab).tokens
    length = tokens.size // 4
    memory = snap.carried_state()[0][0]  # after one step: each stream's first token, then what it remembered
    np.testing.assert_array_equal(memory[0], [tokens[0]] + [-1] * 11)
    for row in range(1, 4):
        start = row * length
        np.testing.assert_array_equal(memory[row], tokens[start - 11:start + 1][::-1])


@pytest.mark.slow  # 0.7 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_random_positions_draw_each_window_anew_with_the_memory_before_it(corpus, tmp_path):
    from charlm.lm.measure.evaluate import encode_for_scoring

    runs = {}
    for positions in ("streams", "random"):
        runs[positions] = run = tmp_path / positions
        result = run_cli(None, "train", corpus, "--out", run, *SMALL, "--batch-size", 4, "--seq-len", 3, "--max-steps", 2,
                         "--val-frac", 0, "--positions", positions, "--quiet")
        assert result.code == 0, result.err
    snap = load_model(runs["random"] / "last.npz")
    tokens = encode_for_scoring(corpus, snap.vocab).tokens
    memory = snap.carried_state()[0][0]  # after the second window: its 3 tokens, then what came before them
    stream_ends = {row * (tokens.size // 4) + 5 for row in range(4)}  # where the streams' second windows end
    for row in memory:
        # the row is some stretch of the text, newest first: find where it ends
        ends = [end for end in range(11, tokens.size) if np.array_equal(tokens[end - 11:end + 1][::-1], row)]
        assert ends and not stream_ends & set(ends), row
    streams = load_model(runs["streams"] / "last.npz")
    assert not np.array_equal(streams.model.params["memory.A"], snap.model.params["memory.A"])


@pytest.mark.parametrize("option, value, saved", [("--positions", "streams", "'random'"),
                                                   ("--decay-against", "best", "'previous'")])
def test_the_positions_and_the_plateau_reference_cannot_change_when_resuming(corpus, tmp_path, option, value, saved):
    run = tmp_path / "run"
    assert run_cli(None, "train", corpus, "--out", run, *SMALL, "--max-steps", 2, "--positions", "random",
                   "--quiet").code == 0
    before = (run / "last.npz").read_bytes()
    result = run_cli(None, "train", corpus, "--out", run, "--resume", option, value, "--max-steps", 4)
    assert result.code != 0 and f"{option} cannot change when resuming: the run has {saved}" in result.err
    assert "Traceback" not in result.err and (run / "last.npz").read_bytes() == before


def test_the_html_page_shows_what_each_hop_attends_to(memn2n_run, corpus, tmp_path, capsys):
    page = tmp_path / "page.html"
    result = run_cli(capsys, "inspect", memn2n_run, corpus, "--limit", 40, "--html", page)
    assert result.code == 0, result.err
    text = page.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("const ATTEND = "))
    attend = json.loads(line[len("const ATTEND = "):line.index(";  //")])
    assert len(attend) == 40 and all(len(hops) == 2 for hops in attend)  # every token, --hops 2
    assert attend[0] == [[[0, 100]], [[0, 100]]]  # the first token remembers only itself
    for hops in attend[12:]:
        for slots in hops:
            assert len(slots) == 3 and all(0 <= back < 12 for back, _ in slots)
            assert [pct for _, pct in slots] == sorted((pct for _, pct in slots), reverse=True)
