"""Text-RNN and RCNN end to end: every parameter's gradient (embedding included) against finite
differences, padding that changes neither predictions nor gradients, the RCNN's contexts against
a plain per-word reference, and float32 against float64."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.classify.config import ClassifierConfig
from charlm.classify.models import build_classifier
from charlm.classify.padding import PaddedBatch
from tests.helpers.gradcheck import max_relative_error, numeric_gradient

V, C, E, H = 7, 3, 3, 3
SEQUENCES = [[1, 5, 2, 6, 3], [3, 4, 2], [6]]  # lengths 5, 3, 1: padding in two columns
LABELS = np.array([2, 0, 1])


def make(model="textrnn", cell="lstm", pool="last", layers=1, dropout=0.0, dtype=np.float64, seed=1):
    config = ClassifierConfig(model=model, vocab_size=V, num_classes=C, cell=cell, embed_size=E, hidden_size=H,
                              layers=layers, dropout=dropout, pool="max" if model == "rcnn" else pool, proj_size=5)
    net = build_classifier(config, dtype, seed)
    # Larger weights than the default init, so every gate works away from its linear region.
    net.store.data[:] = np.random.default_rng(seed).uniform(-0.9, 0.9, net.store.data.shape)
    net.refresh()
    return net


def batch_of(sequences):
    return PaddedBatch.from_sequences([np.array(s, np.int32) for s in sequences])


CASES = [
    ("textrnn", "lstm", "last", 1, 0.0),
    ("textrnn", "gru", "last", 2, 0.0),
    ("textrnn", "lstm", "mean", 1, 0.0),
    ("textrnn", "gru", "max", 1, 0.0),
    ("textrnn", "lstm", "last", 2, 0.3),
    ("rcnn", "lstm", "max", 1, 0.0),
    ("rcnn", "gru", "max", 1, 0.3),
    ("rcnn", "rnn-tanh", "max", 1, 0.0),
]


def max_pool_margin(net, batch) -> float:
    """The smallest gap between the largest and second-largest valid value of any max-pooled
    column: max pooling has a kink at a tie, and finite differences must not step across one."""
    net.logits(batch)
    values = np.where(batch.mask[:, :, None], net._pool_input, -np.inf)
    top2 = -np.sort(-values, axis=0)[:2]
    gaps = top2[0] - top2[1]
    return float(gaps[np.isfinite(gaps)].min())


def smooth_model(*args):
    """A model whose max pooling (if any) is at least 0.02 away from a tie on SEQUENCES."""
    for seed in range(1, 50):
        net = make(*args, seed=seed)
        if net.config.model == "textrnn" and net.config.pool != "max":
            return net
        if max_pool_margin(net, batch_of(SEQUENCES)) >= 0.02:
            return net
    raise AssertionError("no seed gives a max pooling clear of ties")


@pytest.mark.slow  # 7.6 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("model, cell, pool, layers, dropout", CASES)
def test_gradients_match_finite_differences(model, cell, pool, layers, dropout):
    net = smooth_model(model, cell, pool, layers, dropout)
    batch = batch_of(SEQUENCES)

    def loss():
        net.refresh()
        rng = np.random.default_rng(9) if dropout else None  # the same masks every time
        return net.train_step(batch, LABELS, rng)[0]

    loss()
    analytic = net.store.grad.copy()
    numeric = numeric_gradient(loss, net.store.data)
    errors = {name: max_relative_error(net.store.view(analytic, name), net.store.view(numeric, name))
              for name in net.store.names()}
    assert max(errors.values()) <= 1e-6, errors
    assert np.abs(net.store.view(analytic, "embedding.weight")[0]).max() == 0.0, "the padding token got gradient"


@pytest.mark.parametrize("model, pool", [("textrnn", "last"), ("textrnn", "mean"), ("textrnn", "max"), ("rcnn", "max")])
def test_padding_changes_neither_logits_nor_gradient_contributions(model, pool):
    net = make(model, "lstm", pool, layers=2 if model == "textrnn" else 1)
    short = [4, 2]
    together = batch_of([short, [1, 5, 2, 6, 3, 3, 1], [6, 2, 5]])  # `short` padded by 5 steps
    labels = np.array([1, 0, 2])
    logits = net.logits(together)
    loss, _ = net.train_step(together, labels)
    grad_together = net.store.grad * 3  # the gradient of the summed loss
    grad_alone = np.zeros_like(grad_together)
    for n, seq in enumerate([short, [1, 5, 2, 6, 3, 3, 1], [6, 2, 5]]):
        one = batch_of([seq])
        assert np.abs(net.logits(one)[0] - logits[n]).max() <= 1e-13
        net.train_step(one, labels[n : n + 1])
        grad_alone += net.store.grad
    assert np.abs(grad_together - grad_alone).max() <= 1e-12


def test_rcnn_features_match_a_per_word_reference():
    """y_i = tanh(W [c_l(i); e(i); c_r(i)] + b) with c_l, c_r from running the two directions
    word by word over each sentence alone, then max over i."""
    net = make("rcnn", "rnn-tanh")
    p = net.params
    batch = batch_of(SEQUENCES)
    got = net._features(p["embedding.weight"][batch.tokens], batch, None)

    def run(words, suffix):
        h, states = np.zeros(H), []
        for w in words:
            x = p["embedding.weight"][w]
            h = np.tanh(p[f"rnn.weight_ih_l0{suffix}"] @ x + p[f"rnn.bias_ih_l0{suffix}"]
                        + p[f"rnn.weight_hh_l0{suffix}"] @ h + p[f"rnn.bias_hh_l0{suffix}"])
            states.append(h)
        return states

    for n, words in enumerate(SEQUENCES):
        fwd = run(words, "")
        back = run(words[::-1], "_reverse")[::-1]
        ys = []
        for i, w in enumerate(words):
            c_l = fwd[i - 1] if i else np.zeros(H)
            c_r = back[i + 1] if i + 1 < len(words) else np.zeros(H)
            ys.append(np.tanh(p["proj.weight"] @ np.concatenate([c_l, p["embedding.weight"][w], c_r]) + p["proj.bias"]))
        assert np.abs(got[n] - np.max(ys, axis=0)).max() <= 1e-13


@pytest.mark.parametrize("model", ["textrnn", "rcnn"])
def test_float32_agrees_with_float64(model):
    wide = make(model, "gru", "mean", dtype=np.float64)
    narrow = make(model, "gru", "mean", dtype=np.float32)
    narrow.store.data[:] = wide.store.data
    narrow.refresh()
    batch = batch_of(SEQUENCES)
    loss64, _ = wide.train_step(batch, LABELS)
    loss32, _ = narrow.train_step(batch, LABELS)
    assert narrow.store.grad.dtype == np.float32
    assert abs(loss64 - loss32) <= 1e-5
    assert np.abs(wide.store.grad - narrow.store.grad).max() <= 1e-5


def test_same_seed_same_initialisation_and_different_seed_not():
    a, b, c = (build_classifier(ClassifierConfig("textrnn", V, C, embed_size=E, hidden_size=H), np.float32, s) for s in (4, 4, 5))
    assert np.array_equal(a.store.data, b.store.data)
    assert not np.array_equal(a.store.data, c.store.data)
    # LSTM gate order i, f, g, o: the forget block is rows H..2H, its bias 1 in both directions.
    for name in ("rnn.bias_ih_l0", "rnn.bias_ih_l0_reverse"):
        assert (a.params[name][H : 2 * H] == 1.0).all()
        assert (a.params[name.replace("_ih", "_hh")][H : 2 * H] == 0.0).all()
