"""charlm as a user runs it: train -> eval -> info on real text, in a temporary folder."""

from __future__ import annotations

import json
import time

import pytest

from charlm.lm.config import parse_duration
from charlm.store.runfolder import RunFolder
from charlm.lm.models.saved import load_model
from tests.helpers.cli import TINY, run_cli
from tests.helpers.texts import write_text


@pytest.fixture(scope="module")
def trained(trained_run):
    return trained_run


def test_train_exits_zero_and_leaves_a_complete_run_folder(trained):
    _, _, run, result = trained
    assert result.code == 0, result.err
    folder = RunFolder(run)
    assert folder.last.exists() and folder.best.exists() and folder.metrics.exists()
    rows = folder.read_metrics()
    assert rows and all({"step", "epoch", "train_loss", "val_loss", "tokens_per_s", "lr", "elapsed_s"} <= set(r) for r in rows)
    train_losses = [r["train_loss"] for r in rows if r["val_loss"] is None]
    assert train_losses[-1] < 2.7 < train_losses[0]  # it learned
    assert "training summary" in result.out
    assert load_model(folder.best).vocab.level == "char"


def test_eval_reports_loss_perplexity_and_bits(trained, capsys):
    folder, corpus, run, _ = trained
    result = run_cli(capsys, "eval", run, corpus, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["tokens"] == len(corpus.read_text(encoding="utf-8")) - 1
    assert report["perplexity"] == pytest.approx(2.718281828 ** report["loss"], rel=1e-9)
    assert report["bits_per_character"] == pytest.approx(report["loss"] / 0.6931471805599453, rel=1e-9)
    assert report["loss"] < 2.7
    table = run_cli(capsys, "eval", run, corpus)
    assert table.code == 0 and "perplexity" in table.out


def test_info_shows_configuration_and_progress(trained, capsys):
    _, _, run, _ = trained
    result = run_cli(capsys, "info", run, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["model"]["hidden_size"] == 32 and report["vocab_size"] > 30
    assert report["steps"] > 0 and report["best_val_loss"] is not None
    drawn = run_cli(capsys, "info", run)
    assert drawn.code == 0 and "validation loss" in drawn.out  # the loss curve's legend


def test_an_existing_run_is_refused_and_left_untouched(trained, capsys):
    folder, corpus, run, _ = trained
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    result = run_cli(capsys, "train", corpus, "--out", run, *TINY, "--max-steps", 2)
    assert result.code != 0
    assert "already holds a run" in result.err and "--resume" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("command", ["train", "sample", "eval", "info"])
def test_help_of_every_command(command, capsys):
    result = run_cli(capsys, command, "--help")
    assert result.code == 0
    assert "Usage" in result.out and "--help" in result.out


def test_default_run_folder_is_runs_slash_corpus_name(tmp_path, capsys):
    corpus = write_text(tmp_path, 20_000, name="poems.txt")
    result = run_cli(capsys, "train", corpus, *TINY, "--max-steps", 3, "--quiet", cwd=tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / "runs" / "poems" / "last.npz").exists()


def test_eval_of_a_model_with_uniform_output_reports_perplexity_equal_to_the_vocabulary_size(tmp_path, capsys):
    from charlm.lm.config import ModelConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.lm.models.saved import save_model
    from charlm.text.vocab import Vocab

    text = write_text(tmp_path, 5_000).read_text(encoding="utf-8")
    vocab = Vocab.build_char(text)
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=16, layers=1))
    model.params["decoder.weight"][:] = 0  # every logit 0: the uniform distribution
    model.params["decoder.bias"][:] = 0
    save_model(tmp_path / "uniform.npz", model, vocab)
    result = run_cli(capsys, "eval", tmp_path / "uniform.npz", tmp_path / "corpus.txt", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["perplexity"] == pytest.approx(len(vocab), rel=1e-5)


@pytest.mark.slow  # 1.6 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_max_time_stops_training_after_that_much_time_and_validates(tmp_path, capsys):
    corpus = write_text(tmp_path, 40_000)
    run = tmp_path / "run"
    started = time.monotonic()
    result = run_cli(capsys, "train", corpus, "--out", run, *TINY, "--epochs", 1000, "--max-time", "1.5s", "--quiet")
    took = time.monotonic() - started
    assert result.code == 0, result.err
    assert "(max-time)" in result.out
    snap = load_model(run / "last.npz")
    assert snap.meta["progress"]["elapsed_s"] >= 1.5
    assert took < 60  # 1000 epochs would take far longer
    # The model kept at the end was validated.
    assert snap.meta["validations"][-1]["step"] == snap.meta["progress"]["step"]


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("30m", 1800), ("1.5h", 5400), (" 2 min ", 120)])
def test_durations_are_read_in_seconds_minutes_or_hours(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0", "-5m", "10d", "5 m s"])
def test_a_bad_max_time_is_one_clear_error_before_anything_is_written(tmp_path, capsys, text):
    corpus = write_text(tmp_path, 10_000)
    result = run_cli(capsys, "train", corpus, "--out", tmp_path / "run", *TINY, "--max-time", text)
    assert result.code == 2
    assert "--max-time must be a positive duration" in result.err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command, shown", [
    (["train"], "[default: 256]"), (["sample"], "[default: 500]"), (["classify", "train"], "[default: 128]")])
def test_help_shows_the_defaults(command, shown, capsys, monkeypatch):
    # Rich reads "[...]" in help texts as markup and drops it unless escaped.
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli(capsys, *command, "--help")
    assert result.code == 0
    assert shown in result.out


def test_quiet_display_drops_the_trainers_notes_and_counts_skipped_steps_in_its_one_line():
    import io

    from rich.console import Console

    from charlm.cli.train_display import TrainingDisplay

    def display(quiet):
        buffer = io.StringIO()
        return TrainingDisplay(Console(file=buffer, width=300), "char", quiet=quiet), buffer

    loud, loud_out = display(False)
    loud.message("validation loss did not improve: learning rate lowered to 0.001")
    assert "learning rate lowered" in loud_out.getvalue()
    quiet, quiet_out = display(True)
    quiet.message("validation loss did not improve: learning rate lowered to 0.001")
    assert quiet_out.getvalue() == ""
    summary = {"steps": 40, "stopped_by": "epochs", "elapsed_s": 3.0, "best_val_loss": 1.5, "skipped_steps": 2,
               "best": "runs/x/best.npz", "last": "runs/x/last.npz"}
    line = quiet._summary_line(summary)
    assert "2 steps skipped (non-finite)" in line and "\n" not in line
    assert "skipped" not in quiet._summary_line({**summary, "skipped_steps": 0})


def test_a_run_without_validation_resumes(tmp_path, capsys):
    """--val-frac 0 is saved with the run; resuming reads the corpus the same way (it used to
    refuse the saved 0 as an out-of-range fraction)."""
    corpus = write_text(tmp_path, 20_000)
    run = tmp_path / "run"
    first = run_cli(capsys, "train", corpus, "--out", run, *TINY, "--val-frac", 0, "--max-steps", 3, "--quiet")
    assert first.code == 0, first.err
    again = run_cli(capsys, "train", "--out", run, "--resume", "--max-steps", 6, "--quiet")
    assert again.code == 0, again.err
    assert again.out.startswith("6 steps")


def test_info_of_a_finished_run_names_the_last_epoch_not_the_next(tmp_path, capsys):
    corpus = write_text(tmp_path, 3_000)
    run = tmp_path / "run"
    assert run_cli(capsys, "train", corpus, "--out", run, *TINY, "--epochs", 2, "--quiet").code == 0
    report = run_cli(capsys, "info", run, "--json")
    assert report.code == 0 and json.loads(report.out)["epoch"] == 2
    assert "epoch 2" in run_cli(capsys, "info", run).out


def test_a_setting_that_is_no_option_is_named_in_words():
    from charlm.errors import ConfigError
    from charlm.lm.config import ModelConfig, TrainConfig

    with pytest.raises(ConfigError, match="^the vocabulary size must be a positive integer"):
        ModelConfig(vocab_size=0)
    with pytest.raises(ConfigError) as info:
        TrainConfig(log_every=0)
    assert "--log-every" not in str(info.value)


def test_shell_completion_is_offered(capsys):
    result = run_cli(capsys, "--help")
    assert result.code == 0 and "--install-completion" in result.out


def test_divergence_before_any_checkpoint_names_none(tmp_path):
    """The message points at the last good checkpoint only when there is one."""
    import numpy as np

    from charlm.errors import TrainingError
    from charlm.lm.config import ModelConfig, TrainConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.lm.train.trainer import Trainer
    from charlm.store.runfolder import RunFolder
    from charlm.text.vocab import Vocab

    vocab = Vocab.build_char("abcd")
    model = RecurrentLanguageModel(ModelConfig(vocab_size=4, hidden_size=8, layers=1))
    model.params["decoder.bias"][:] = np.nan  # every loss is NaN from the first step
    model.refresh()
    run = RunFolder(tmp_path / "run")
    run.create(resume=False, force=False)
    tokens = np.tile(np.arange(4, dtype=np.uint8), 400)
    trainer = Trainer(model, vocab, TrainConfig(seq_len=8, batch_size=4, checkpoint_seconds=1e9), run, tokens)
    with pytest.raises(TrainingError) as info:
        trainer.fit()
    assert "No checkpoint had been saved yet" in str(info.value) and "last.npz" not in str(info.value)


def test_eval_of_the_validation_text_prints_the_best_validation_loss(tmp_path, capsys):
    """Training's best validation loss, `charlm info`'s and `charlm eval RUN valid.txt`'s are one
    figure: eval reads the text in the streams and windows the model was validated with."""
    text = write_text(tmp_path, 12_000).read_text()
    (tmp_path / "train.txt").write_text(text[:10_000])
    (tmp_path / "valid.txt").write_text(text[10_000:])
    run = tmp_path / "run"
    trained = run_cli(capsys, "train", tmp_path / "train.txt", "--val", tmp_path / "valid.txt", "--out", run,
                      *TINY, "--batch-size", 7, "--seq-len", 20, "--epochs", 1, "--quiet")
    assert trained.code == 0, trained.err
    best = json.loads(run_cli(capsys, "info", run, "--json").out)["best_val_loss"]
    report = json.loads(run_cli(capsys, "eval", run, tmp_path / "valid.txt", "--json").out)
    assert (report["batch_size"], report["seq_len"]) == (7, 20)
    assert report["loss"] == pytest.approx(best, rel=1e-6)
    # Other streams are another measurement: the old default of 10 streams gives another figure.
    other = json.loads(run_cli(capsys, "eval", run, tmp_path / "valid.txt", "--batch-size", 10, "--json").out)
    assert other["loss"] != pytest.approx(best, rel=1e-6)
