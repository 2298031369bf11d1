"""Dynamic evaluation (lm/dynamic.py): honest by construction (every window is scored before the
step that has seen it), it learns from what it has read (a repeated passage scores far better the
second time, a new passage does not), and the model's weights come back unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.core.optim import make_optimizer
from charlm.errors import ConfigError
from charlm.lm.data.batching import batchify, windows
from charlm.lm.config import ModelConfig
from charlm.lm.measure.dynamic import dynamic_evaluate, gradient_statistics, rms_update, decayed_sgd_update
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.text.vocab import Vocab
from tests.helpers.texts import english_text

T = 20


@pytest.fixture(scope="module")
def trained():
    """A small character model trained for two passes over 50,000 characters (about 3 s), and
    the text after them."""
    text = english_text(53_000)
    vocab = Vocab.build_char(text)
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=128, layers=1), np.float32, seed=0)
    optimizer = make_optimizer("adam", model.store, 0.01)
    streams = batchify(vocab.encode(text[:50_000]), 16)
    state = model.initial_state(16)
    for _ in range(2):
        for _, x, y in windows(streams, 50):
            _, state = model.train_step(x, y, state)
            optimizer.step()
            model.refresh()
    return model, vocab, text[50_000:]


def window_losses(model, tokens, lr, decay=0.0):
    losses = []
    dynamic_evaluate(model, tokens, seq_len=T, lr=lr, decay=decay, window_losses=losses)
    return np.array(losses)


@pytest.mark.slow  # 1.6 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_the_first_window_scores_as_static_evaluation_and_later_ones_see_only_the_past(trained):
    model, vocab, rest = trained
    tokens = vocab.encode(rest[:400])
    losses = window_losses(model, tokens, lr=0.3)
    static, _ = model.loss(tokens[:T].reshape(-1, 1), tokens[1:T + 1].reshape(-1, 1).astype(np.int32), model.initial_state(1))
    assert losses[0] == pytest.approx(static, rel=1e-5)
    # Rewriting the text after window k leaves the scores of windows 0..k exactly as they were.
    k = 6
    changed = tokens.copy()
    changed[(k + 1) * T + 1:] = np.roll(changed[(k + 1) * T + 1:], 7)
    again = window_losses(model, changed, lr=0.3)
    np.testing.assert_array_equal(again[:k + 1], losses[:k + 1])
    assert not np.array_equal(again[k + 1:], losses[k + 1:])


@pytest.mark.slow  # 1.2 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_a_repeated_passage_scores_far_better_the_second_time_and_a_new_one_does_not(trained):
    model, vocab, rest = trained
    first, other = rest[:1500], rest[1500:3000]

    def gain(second):
        tokens = vocab.encode(first + second)
        dynamic, static = window_losses(model, tokens, lr=0.3), window_losses(model, tokens, lr=1e-12)
        half = len(dynamic) // 2
        return (static[half:].sum() - dynamic[half:].sum()) / (T * (len(dynamic) - half))  # nats per token

    repeated, control = gain(first), gain(other)
    assert repeated > 0.05 and repeated > control + 0.05, (repeated, control)


def test_the_weights_come_back_unchanged_even_when_evaluation_fails(trained, monkeypatch):
    model, vocab, rest = trained
    before = model.store.data.copy()
    window_losses(model, vocab.encode(rest[:300]), lr=0.5, decay=0.01)
    np.testing.assert_array_equal(model.store.data, before)
    calls = []
    real = model.train_step

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "train_step", failing)
    with pytest.raises(KeyboardInterrupt):
        window_losses(model, vocab.encode(rest[:300]), lr=0.5)
    np.testing.assert_array_equal(model.store.data, before)


def test_the_update_rules_are_the_papers():
    rng = np.random.default_rng(0)
    trained, data, grad, ms, rate = (rng.standard_normal(7) for _ in range(5))
    ms, rate = np.abs(ms), np.abs(rate)
    want = data + 0.1 * (trained - data) - 0.3 * grad
    decayed_sgd_update(data := data.copy(), grad, trained, 0.3, 0.1)
    np.testing.assert_allclose(data, want, rtol=1e-14)
    old = data.copy()
    rms_update(data, grad, trained, 0.3, 0.1, ms, rate, 1e-3)
    np.testing.assert_allclose(data, old + 0.1 * rate * (trained - old) - 0.3 * grad / (ms + 1e-3), rtol=1e-14)


def test_the_decay_acts_from_the_second_step(trained):
    """theta_1 = theta_0 - lr g_0 whatever the decay (theta_0 - theta_0 = 0); from theta_2 on it pulls back."""
    model, vocab, rest = trained
    tokens = vocab.encode(rest[:3 * T + 1])
    anchored, plain = window_losses(model, tokens, lr=0.3, decay=0.5), window_losses(model, tokens, lr=0.3)
    assert anchored[1] == plain[1] and anchored[2] != pytest.approx(plain[2], rel=1e-6)


@pytest.mark.slow  # 0.6 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_the_rms_rule_with_statistics_from_training_text(trained):
    model, vocab, rest = trained
    before = model.store.data.copy()
    stats = gradient_statistics(model, vocab.encode(rest[1500:]), seq_len=T, batch_size=4, max_windows=10)
    assert stats.windows == 10 and stats.ms.shape == model.store.data.shape and (stats.ms >= 0).all()
    np.testing.assert_array_equal(model.store.data, before)  # gathering statistics changes nothing
    first = rest[:1500]
    tokens = vocab.encode(first + first)
    losses = []
    dynamic_evaluate(model, tokens, seq_len=T, lr=1e-4, decay=0.002, stats=stats, window_losses=losses)
    static = window_losses(model, tokens, lr=1e-12)
    half = len(losses) // 2
    assert np.sum(losses[half:]) < static[half:].sum()  # it adapts to what it has read
    np.testing.assert_array_equal(model.store.data, before)


@pytest.mark.parametrize("lr, decay, seq_len, fragment", [
    (0.0, 0.0, 20, "--lr for dynamic evaluation must be a positive number"),
    (0.1, 1.0, 20, "--decay must be in [0, 1)"),
    (0.1, 0.0, 0, "--seq-len must be a positive integer"),
])
def test_impossible_settings_are_refused(trained, lr, decay, seq_len, fragment):
    model, vocab, rest = trained
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        dynamic_evaluate(model, vocab.encode(rest[:50]), seq_len=seq_len, lr=lr, decay=decay)
