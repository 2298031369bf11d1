"""A language model whose output layer is the adaptive softmax: exact gradients through the whole
model (finite differences, float64), the training loss equal to the evaluation loss, a proper
distribution from step_logits, a checkpoint that comes back the same, and options that cannot
work refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.errors import ConfigError
from charlm.lm.config import ModelConfig
from charlm.lm.models.recurrent import RecurrentLanguageModel
from tests.helpers.gradcheck import model_gradient_errors

V, T, N, H = 30, 3, 4, 4


def make(dropout=0.0, dtype=np.float64):
    config = ModelConfig(vocab_size=V, hidden_size=H, layers=2, dropout=dropout, init_scale=1.0,
                         softmax="adaptive", cutoffs=[6, 15], tail_div=2.0)
    model = RecurrentLanguageModel(config, dtype, seed=1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (T, N))
    y = np.array([[0, 7, 20, 29], [5, 6, 14, 15], [1, 16, 2, 9]])  # the head and both clusters
    state = [tuple((0.5 * rng.normal(size=(N, H))).astype(dtype) for _ in s) for s in model.initial_state(N)]
    return model, x, y, state


@pytest.mark.slow  # 2.3 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_gradients_through_the_whole_model_match_finite_differences(dropout):
    model, x, y, state = make(dropout)

    def loss():
        model.refresh()
        return model.train_step(x, y, state, np.random.default_rng(5) if dropout else None)[0]

    errors = model_gradient_errors(model, loss)
    assert max(errors.values()) <= 1e-6, errors
    assert {"decoder.head.weight", "decoder.tail.1.1.weight"} <= set(errors) and "decoder.bias" not in errors


def test_the_training_loss_is_the_evaluation_loss_and_step_logits_a_distribution():
    model, x, y, state = make()
    mean_loss, _ = model.train_step(x, y, state)
    summed, _ = model.loss(x, y, state)
    assert summed / y.size == pytest.approx(mean_loss, rel=1e-12)
    log_p, _ = model.step_logits(x[0], state)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=1e-12)
    assert -log_p[np.arange(N), y[0]].sum() == pytest.approx(model.loss(x[:1], y[:1], state)[0], rel=1e-12)


def test_a_saved_adaptive_model_comes_back_the_same(tmp_path):
    from charlm.lm.models.saved import load_model, save_model
    from charlm.text.vocab import Vocab

    model, x, y, state = make()
    vocab = Vocab(["<unk>", "<eos>"] + [f"w{i}" for i in range(2, V)], "word")
    save_model(tmp_path / "m.npz", model, vocab)
    back = load_model(tmp_path / "m.npz").model
    assert back.config == model.config and back.config.cutoffs == [6, 15]
    assert back.loss(x, y, state)[0] == model.loss(x, y, state)[0]


@pytest.mark.parametrize("settings, fragment", [
    ({"softmax": "adaptive", "cutoffs": [6, 30], "tail_div": 2.0}, "must stay below the vocabulary size (30 words)"),
    ({"softmax": "adaptive", "cutoffs": [15, 6], "tail_div": 2.0}, "must be positive and increasing"),
    ({"softmax": "adaptive", "tie_weights": True, "tail_div": 2.0}, "--tie-weights cannot be used with --softmax adaptive"),
    ({"softmax": "full", "cutoffs": [6, 15]}, "--cutoffs is for --softmax adaptive"),
    ({"softmax": "sampled"}, "unknown softmax 'sampled'"),
])
def test_settings_that_cannot_work_are_refused(settings, fragment):
    with pytest.raises(ConfigError) as error:
        RecurrentLanguageModel(ModelConfig(vocab_size=V, hidden_size=H, **settings))
    assert fragment in str(error.value)
