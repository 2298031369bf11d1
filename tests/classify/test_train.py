"""The training loop's bookkeeping (early stopping, the best model kept, order of predictions)
and the evaluation metrics against a plain per-example count."""

from __future__ import annotations

import numpy as np
import pytest

import charlm.classify.train as train_mod
from charlm.classify.config import ClassifierConfig
from charlm.supervised.config import FitConfig
from charlm.supervised.metrics import report
from charlm.classify.models import build_classifier
from charlm.classify.padding import PaddedBatch
from charlm.classify.train import EncodedSet, ClassifierTrainer, predict_probs


def tiny_sets(n=40, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, 9, int(rng.integers(1, 8))).astype(np.int32) for _ in range(n)]
    return EncodedSet(seqs, rng.integers(0, 2, n))


def tiny_model():
    return build_classifier(ClassifierConfig("textrnn", 9, 2, embed_size=4, hidden_size=4, dropout=0.0), np.float64, 0)


def test_early_stopping_keeps_the_best_epochs_model(monkeypatch):
    """Dev accuracies 0.5, 0.7, 0.6, 0.6 with patience 2: stop after epoch 4, keep epoch 2's weights."""
    scripted = iter([0.5, 0.7, 0.6, 0.6, 0.9])
    monkeypatch.setattr(train_mod, "accuracy", lambda model, data: next(scripted))
    model = tiny_model()
    snapshots, saved = [], []
    trainer = ClassifierTrainer(model, FitConfig(epochs=10, patience=2, batch_size=8, lr=0.05), tiny_sets(), tiny_sets(seed=1),
                      on_best=lambda t: saved.append((t.epoch, t.model.store.data.copy())),
                      log=lambda record: snapshots.append(model.store.data.copy()))
    summary = trainer.fit()
    assert summary["stopped_by"] == "early stop" and summary["epochs"] == 4
    assert summary["best_epoch"] == 2 and summary["best_dev_acc"] == 0.7
    assert [epoch for epoch, _ in saved] == [1, 2]
    assert not np.array_equal(snapshots[1], snapshots[3])  # training did move the weights on
    assert np.array_equal(model.store.data, snapshots[1])  # ...and the best epoch's came back
    assert [r["improved"] for r in trainer.history] == [True, True, False, False]


def test_a_diverging_run_stops_with_a_clear_error(monkeypatch):
    from charlm.errors import TrainingError

    model = tiny_model()
    monkeypatch.setattr(model, "train_step", lambda batch, labels, rng=None: (float("nan"), 0))
    trainer = ClassifierTrainer(model, FitConfig(epochs=1, batch_size=4), tiny_sets(), tiny_sets(seed=1))
    with pytest.raises(TrainingError, match="not finite 3 steps in a row"):
        trainer.fit()


def test_predictions_come_back_in_input_order():
    model = tiny_model()
    data = tiny_sets(30, seed=2)
    probs = predict_probs(model, data.sequences, batch_size=7)  # batches sorted by length inside
    for i in (0, 5, 17, 29):
        one = model.logits(PaddedBatch.from_sequences([data.sequences[i]]))[0]
        expected = np.exp(one - one.max()) / np.exp(one - one.max()).sum()
        assert np.abs(probs[i] - expected).max() <= 1e-12
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_metrics_match_a_per_example_count():
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    predicted[truth == 2] = 2  # make the classes differ in quality
    result = report(truth, predicted, ["a", "b", "c"])
    assert result["accuracy"] == pytest.approx(np.mean(truth == predicted))
    f1s = []
    for c in range(3):
        tp = sum(1 for t, p in zip(truth, predicted) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, predicted) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, predicted) if t == c and p != c)
        f1s.append(2 * tp / (2 * tp + fp + fn))
        assert result["confusion"][c][c] == tp and sum(result["confusion"][c]) == tp + fn
    assert result["macro_f1"] == pytest.approx(np.mean(f1s))
    assert result["per_class"]["c"]["recall"] == 1.0
