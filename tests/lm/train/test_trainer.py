"""The training loop as a library: learning, repeatability, exact resume, the NaN guard,
learning-rate rules, early stopping and what the run folder holds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from charlm.lm.data import corpus as data
from charlm.lm.config import ModelConfig, TrainConfig
from charlm.errors import TrainingError
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.store.runfolder import RunFolder
from charlm.lm.models.saved import load_model
from charlm.core.threads import set_threads
from charlm.lm.train.trainer import Trainer
from tests.helpers.texts import english_text


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    path.write_text(english_text(60_000), encoding="utf-8")
    return data.load_corpus(path, level="char", val_frac=0.1)


def make_trainer(corpus, folder, resume=None, model=None, **overrides):
    settings = dict(seq_len=16, batch_size=8, epochs=1, lr=5e-3, log_every=5, seed=3, checkpoint_seconds=1e9)
    settings.update(overrides)
    config = TrainConfig(**settings)
    if model is None:
        model = RecurrentLanguageModel(ModelConfig(vocab_size=len(corpus.vocab), hidden_size=32, layers=2, dropout=0.1), seed=7)
    run = RunFolder(folder)
    run.prepare(resume=resume is not None, force=False)
    return Trainer(model, corpus.vocab, config, run, corpus.train, corpus.val, resume=resume)


def train_losses(folder):
    return [r["train_loss"] for r in RunFolder(folder).read_metrics() if r["val_loss"] is None]


def test_a_small_model_learns_english(corpus, tmp_path):
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(corpus.vocab), hidden_size=64, layers=1), seed=7)
    trainer = make_trainer(corpus, tmp_path / "run", model=model, max_steps=150, epochs=3, batch_size=16, seq_len=32, lr=1e-2)
    summary = trainer.fit()
    losses = train_losses(tmp_path / "run")
    assert losses[0] > 3.5  # about log(vocabulary): knows nothing yet
    assert losses[-1] < 2.6  # has learned character frequencies and common pairs at least
    assert summary["best_val_loss"] < 2.6
    assert summary["stopped_by"] == "max-steps"


def test_same_seed_same_losses(corpus, tmp_path):
    for name in ("a", "b"):
        make_trainer(corpus, tmp_path / name, max_steps=20).fit()
    assert train_losses(tmp_path / "a") == train_losses(tmp_path / "b")
    assert np.array_equal(load_model(tmp_path / "a" / "last.npz").model.store.data,
                          load_model(tmp_path / "b" / "last.npz").model.store.data)


def test_resume_continues_exactly(corpus, tmp_path):
    """N + M steps in one go equal N steps, a checkpoint, and M more from it: parameters,
    optimizer moments and every logged loss, bit for bit (one thread, dropout on)."""
    set_threads(1)
    try:
        make_trainer(corpus, tmp_path / "once", max_steps=23).fit()
        make_trainer(corpus, tmp_path / "twice", max_steps=11).fit()
        snap = load_model(tmp_path / "twice" / "last.npz")
        make_trainer(corpus, tmp_path / "twice", resume=snap, model=snap.model, max_steps=23).fit()
    finally:
        set_threads(None)
    once, twice = load_model(tmp_path / "once" / "last.npz"), load_model(tmp_path / "twice" / "last.npz")
    assert np.array_equal(once.model.store.data, twice.model.store.data)
    for key in ("optim/m", "optim/v"):
        assert np.array_equal(once.arrays[key], twice.arrays[key])
    assert train_losses(tmp_path / "once") == train_losses(tmp_path / "twice")
    assert once.meta["rng"] == twice.meta["rng"]


def test_a_non_finite_step_is_skipped_and_repeated_ones_stop_training(corpus, tmp_path, monkeypatch):
    trainer = make_trainer(corpus, tmp_path / "run", max_steps=40)
    real_step = trainer.model.train_step
    calls = []

    def poisoned(x, y, state, rng=None, resets=()):
        calls.append(1)
        loss, new_state = real_step(x, y, state, rng, resets)
        if len(calls) == 4:
            trainer.model.store.grad[0] = np.nan  # one bad gradient at step 4
            return loss, new_state
        if len(calls) >= 10:
            return float("nan"), new_state  # and a diverged loss from step 10 on
        return loss, new_state

    monkeypatch.setattr(trainer.model, "train_step", poisoned)
    before = []
    original_update = trainer.optimizer._update

    def spy(param, grad):
        before.append(len(calls))
        original_update(param, grad)

    monkeypatch.setattr(trainer.optimizer, "_update", spy)
    with pytest.raises(TrainingError, match=r"step 12.*lower --lr"):
        trainer.fit()
    assert 4 not in before  # the NaN gradient never reached the parameters
    assert before == [1, 2, 3, 5, 6, 7, 8, 9]
    assert np.isfinite(trainer.model.store.data).all()
    snap = load_model(tmp_path / "run" / "last.npz") if (tmp_path / "run" / "last.npz").exists() else None
    assert snap is None or np.isfinite(snap.model.store.data).all()


def largest_state_entering_each_step(trainer, monkeypatch) -> list:
    """The largest |value| of the carried state as each training step begins, filled as it trains."""
    seen = []
    real_step = trainer.model.train_step

    def spy(x, y, state, rng=None, resets=()):
        seen.append(max(np.abs(part).max() for layer in state for part in layer))
        return real_step(x, y, state, rng, resets)

    monkeypatch.setattr(trainer.model, "train_step", spy)
    return seen


def test_full_bptt_resets_the_state_every_window(corpus, tmp_path, monkeypatch):
    trainer = make_trainer(corpus, tmp_path / "run", max_steps=4, bptt="full")
    seen = largest_state_entering_each_step(trainer, monkeypatch)
    trainer.fit()
    assert seen == [0.0] * 4


@pytest.mark.slow  # 1.5 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_truncated_bptt_carries_the_state_and_each_epoch_starts_cold(corpus, tmp_path, monkeypatch):
    trainer = make_trainer(corpus, tmp_path / "run", epochs=2, eval_every=0)
    seen = largest_state_entering_each_step(trainer, monkeypatch)
    trainer.fit()
    per_epoch = trainer.windows_per_epoch
    assert len(seen) == 2 * per_epoch
    assert seen[0] == 0.0 and seen[per_epoch] == 0.0  # cold at each epoch start
    assert all(s > 0 for s in seen[1:per_epoch])  # carried within the epoch


def test_learning_rate_falls_on_a_plateau_and_patience_stops(corpus, tmp_path, monkeypatch):
    trainer = make_trainer(corpus, tmp_path / "run", max_steps=100, eval_every=5, patience=2, lr_decay=0.5)
    from charlm.lm.train import trainer as train_module
    from charlm.lm.measure.evaluate import Evaluation

    losses = iter([2.0, 2.5, 1.9, 2.2, 2.3, 9.9])  # improves, worse, best, worse, worse -> stop
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: Evaluation(tokens=1, loss_sum=next(losses)))
    summary = trainer.fit()
    assert summary["stopped_by"] == "early-stop"
    rates = [v["lr"] for v in trainer.validations]
    assert rates == [5e-3, 5e-3, 2.5e-3, 2.5e-3, 1.25e-3]
    assert trainer.progress.lr == 0.625e-3
    assert summary["best_val_loss"] == 1.9 and summary["best_step"] == 15


@pytest.mark.slow  # 3.2 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_epoch_schedule_decays_from_decay_start(corpus, tmp_path, monkeypatch):
    trainer = make_trainer(corpus, tmp_path / "run", epochs=4, lr=1.0, lr_decay=0.5, decay_start=3, optimizer="sgd")
    rates = []
    real_step = trainer.model.train_step

    def spy(x, y, state, rng=None, resets=()):
        rates.append(trainer.optimizer.lr)
        return real_step(x, y, state, rng, resets)

    monkeypatch.setattr(trainer.model, "train_step", spy)
    trainer.fit()
    per_epoch = trainer.windows_per_epoch
    assert [rates[i * per_epoch] for i in range(4)] == [1.0, 1.0, 0.5, 0.25]


def test_run_folder_holds_best_last_and_metrics(corpus, tmp_path):
    make_trainer(corpus, tmp_path / "run", max_steps=12, eval_every=6).fit()
    run = RunFolder(tmp_path / "run")
    rows = run.read_metrics()
    assert {"step", "epoch", "train_loss", "val_loss", "tokens_per_s", "lr", "elapsed_s"} <= set(rows[0])
    validations = [r for r in rows if r["val_loss"] is not None]
    assert [r["step"] for r in validations] == [6, 12]
    best = load_model(run.best)
    assert best.meta["progress"]["best_val_loss"] == min(r["val_loss"] for r in validations)
    last = load_model(run.last)
    assert last.meta["progress"]["step"] == 12
    assert last.carried_state() is not None
    assert json.dumps(last.meta)  # all metadata is plain JSON
    assert math.isfinite(last.meta["progress"]["elapsed_s"])


def test_the_validation_when_a_run_stops_does_not_steer_the_resumed_run(corpus, tmp_path, monkeypatch):
    """Stopping at --max-steps validates the model it keeps. If that extra validation fed the
    plateau rule, a worse figure would lower the rate, and the resumed run would leave the course
    of an uninterrupted one (seen in CI, on a corpus where it did)."""
    import charlm.lm.train.trainer as train_module
    from charlm.lm.measure.evaluate import Evaluation

    figures = iter([2.0, 3.0, 1.9])  # step 5 (scheduled), step 7 (the stop: worse), step 10
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: Evaluation(tokens=1, loss_sum=next(figures)))
    trainer = make_trainer(corpus, tmp_path / "run", max_steps=7, eval_every=5, epochs=5)
    trainer.fit()
    p = trainer.progress
    assert [v["step"] for v in trainer.validations] == [5, 7]
    assert p.lr == 5e-3 and p.bad_validations == 0  # the stop's worse figure changed nothing
    assert p.schedule_best == 2.0 and p.best_val_loss == 2.0
    resumed = make_trainer(corpus, tmp_path / "run", resume=load_model(tmp_path / "run" / "last.npz"),
                           max_steps=10, eval_every=5, epochs=5)
    assert resumed.progress.schedule_best == 2.0
    resumed.fit()
    assert resumed.progress.lr == 5e-3 and resumed.progress.best_val_loss == 1.9


def test_best_npz_holds_the_schedule_its_validation_decided(corpus, tmp_path, monkeypatch):
    """best.npz is written after the plateau rule has judged its validation: its rate and the
    rule's reference are the ones the run went on with, as in last.npz written beside it."""
    import charlm.lm.train.trainer as train_module
    from charlm.lm.measure.evaluate import Evaluation

    figures = iter([2.0, 1.99])  # a new best, but not 5% below the first: the rate is halved
    monkeypatch.setattr(train_module, "evaluate", lambda *a, **k: Evaluation(tokens=1, loss_sum=next(figures)))
    make_trainer(corpus, tmp_path / "run", max_steps=10, eval_every=5, epochs=5, lr_decay=0.5,
                 decay_threshold=0.05).fit()
    best = load_model(tmp_path / "run" / "best.npz").meta["progress"]
    last = load_model(tmp_path / "run" / "last.npz").meta["progress"]
    assert best["best_step"] == 10 and best["best_val_loss"] == 1.99
    assert best["lr"] == last["lr"] == 2.5e-3
    assert best["schedule_best"] == last["schedule_best"] == 2.0
    assert best["bad_validations"] == last["bad_validations"] == 1


def test_after_a_skipped_step_the_next_window_starts_from_a_zero_state(corpus, tmp_path, monkeypatch):
    """The skipped window is passed over (the cursor moves on), so the state carried into the next
    one is reset, not the stale state from before the skipped window."""
    trainer = make_trainer(corpus, tmp_path / "run", max_steps=6)
    real_step = trainer.model.train_step
    states_in = []

    def poisoned(x, y, state, rng=None, resets=()):
        states_in.append([tuple(part.copy() for part in layer) for layer in state])
        loss, new_state = real_step(x, y, state, rng, resets)
        return (float("nan") if len(states_in) == 3 else loss), new_state

    monkeypatch.setattr(trainer.model, "train_step", poisoned)
    trainer.fit()
    assert trainer.progress.skipped_steps == 1
    def zero(state):
        return all(not part.any() for layer in state for part in layer)
    assert zero(states_in[0]) and not zero(states_in[2])  # carried as usual up to the bad window
    assert zero(states_in[3])  # the window after it starts cold
    assert not zero(states_in[4])


@pytest.mark.parametrize("patience, floor, expected", [
    (1, 0.0, [1.0, 0.5, 0.25, 0.125, 0.0625]),   # today's rule: every non-improving validation
    (2, 0.0, [1.0, 1.0, 0.5, 0.5, 0.25]),        # every second one in a row
    (1, 0.2, [1.0, 0.5, 0.25, 0.2, 0.2]),        # never below the floor
])
def test_the_plateau_rule_has_a_patience_and_a_floor(corpus, tmp_path, patience, floor, expected):
    trainer = make_trainer(corpus, tmp_path / "run", lr=1.0, lr_decay=0.5, decay_patience=patience, min_lr=floor)
    trainer._schedule(1.0)  # the first validation sets the mark
    rates = []
    for _ in range(5):
        rates.append(trainer.progress.lr)
        trainer._schedule(2.0)  # never improving
    assert rates == expected


def test_the_plateau_rule_stops_the_run_instead_of_lowering_the_rate_below_stop_lr(corpus, tmp_path):
    trainer = make_trainer(corpus, tmp_path / "run", lr=1.0, lr_decay=0.5, stop_lr=0.3)
    trainer._schedule(1.0)
    trainer._schedule(2.0)
    assert trainer.progress.lr == 0.5 and not trainer._early_stop
    trainer._schedule(2.0)  # 0.25 would be below the stop: the run ends at the rate it had
    assert trainer.progress.lr == 0.5 and trainer._early_stop


@pytest.mark.parametrize("against, threshold, expected", [
    ("best", 0.0, [1.0, 1.0, 0.5, 0.25, 0.125, 0.125]),      # the default: any step below the best so far
    ("previous", 0.0, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5]),       # any step below the validation before
    ("best", 0.05, [1.0, 1.0, 0.5, 0.25, 0.125, 0.0625]),    # 1.999 is not 5% below the best, 2.0
    ("previous", 0.05, [1.0, 1.0, 0.5, 0.25, 0.125, 0.125]),  # nor 2.4 5% below 2.5
])
def test_what_counts_as_an_improvement_is_a_setting(corpus, tmp_path, against, threshold, expected):
    trainer = make_trainer(corpus, tmp_path / "run", lr=1.0, lr_decay=0.5, decay_against=against,
                           decay_threshold=threshold)
    rates = []
    for loss in (3.0, 2.0, 2.5, 2.4, 2.3, 1.999):
        trainer._schedule(loss)
        rates.append(trainer.progress.lr)
    assert rates == expected


@pytest.mark.parametrize("against, stops", [("best", True), ("previous", False)])
def test_patience_counts_the_same_improvements(corpus, tmp_path, against, stops):
    trainer = make_trainer(corpus, tmp_path / "run", lr=1.0, lr_decay=1.0, patience=2, decay_against=against)
    for loss in (3.0, 2.0, 2.5, 2.4, 2.6):  # two in a row above the best; never two above the previous
        trainer._schedule(loss)
    assert trainer._early_stop == stops and trainer.progress.lr == 1.0


class Killed(Exception):
    """A SIGKILL, as far as the run folder can tell: nothing more is written."""


@pytest.mark.slow  # 1.7 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_run_killed_after_an_epochs_validation_resumes_with_the_next_epoch(corpus, tmp_path):
    """last.npz written by the validation at an epoch's end, and nothing after it, resumes where
    the uninterrupted run went on: the next epoch, not the same one again."""
    settings = dict(epochs=2, seq_len=32, batch_size=16)
    set_threads(1)
    try:
        make_trainer(corpus, tmp_path / "once", **settings).fit()
        killed = make_trainer(corpus, tmp_path / "twice", **settings)
        save = killed.save

        def save_then_die(path):
            save(path)
            if path == killed.run.last and killed.validations:
                raise Killed

        killed.save = save_then_die
        with pytest.raises(Killed):
            killed.fit()
        snap = load_model(tmp_path / "twice" / "last.npz")
        assert len(snap.meta["validations"]) == 1 and snap.meta["validations"][0]["epoch"] == 1
        assert (snap.meta["progress"]["epoch"], snap.meta["progress"]["position"]) == (2, 0)  # epoch 2 starts
        make_trainer(corpus, tmp_path / "twice", resume=snap, model=snap.model, **settings).fit()
    finally:
        set_threads(None)
    once, twice = load_model(tmp_path / "once" / "last.npz"), load_model(tmp_path / "twice" / "last.npz")
    assert twice.meta["progress"]["step"] == once.meta["progress"]["step"]
    assert [v["step"] for v in twice.meta["validations"]] == [v["step"] for v in once.meta["validations"]]
    assert np.array_equal(once.model.store.data, twice.model.store.data)
