"""Dynamic evaluation (lm/dynamic.py): honest by construction (every window is scored before the
step that has seen it), it learns from what it has read (a repeated passage scores far better the
second time, a new passage does not), and the model's weights come back unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.core.optim import make_optimizer
from charlm.errors import ConfigError
from charlm.lm.batching import batchify, windows
from charlm.lm.config import ModelConfig
from charlm.lm.dynamic import dynamic_evaluate
from charlm.lm.model import LanguageModel
from charlm.text.vocab import Vocab
from texts import english_text

T = 20


@pytest.fixture(scope="module")
def trained():
    """A small character model trained for two passes over 50,000 characters (about 3 s), and
    the text after them."""
    text = english_text(53_000)
    vocab = Vocab.build_char(text)
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=128, layers=1), np.float32, seed=0)
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


def test_the_decay_pulls_the_weights_back_to_the_trained_ones(trained):
    """After one step theta_1 = theta_0 - lr g + decay (theta_0 - theta_0 + lr g) = theta_0 - (1 - decay) lr g:
    the second window scores as with the rate (1 - decay) lr and no decay."""
    model, vocab, rest = trained
    tokens = vocab.encode(rest[:2 * T + 1])
    anchored = window_losses(model, tokens, lr=0.4, decay=0.25)
    plain = window_losses(model, tokens, lr=0.3)
    assert len(anchored) == 2 and anchored[1] == pytest.approx(plain[1], rel=1e-5)
    assert anchored[1] != pytest.approx(window_losses(model, tokens, lr=0.4)[1], rel=1e-5)


@pytest.mark.parametrize("lr, decay, seq_len, fragment", [
    (0.0, 0.0, 20, "--lr for dynamic evaluation must be a positive number"),
    (0.1, 1.0, 20, "--decay must be in [0, 1)"),
    (0.1, 0.0, 0, "--seq-len must be a positive integer"),
])
def test_impossible_settings_are_refused(trained, lr, decay, seq_len, fragment):
    model, vocab, rest = trained
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        dynamic_evaluate(model, vocab.encode(rest[:50]), seq_len=seq_len, lr=lr, decay=decay)
