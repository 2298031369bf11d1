"""The whole language model: gradients, the reference loss, dropout, the projection-table path,
truncated BPTT and float32."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import naive
from charlm.lm.config import ModelConfig
from charlm.lm.models.recurrent import RecurrentLanguageModel
from tests.helpers.gradcheck import max_relative_error, numeric_gradient

T, N, H = 3, 2, 4


def make(cell="lstm", V=9, tied=False, dropout=0.0, dtype=np.float64, layers=2, init_scale=1.0, seed=1):
    config = ModelConfig(
        vocab_size=V, cell=cell, hidden_size=H, layers=layers, tie_weights=tied, dropout=dropout, init_scale=init_scale
    )
    model = RecurrentLanguageModel(config, dtype, seed=seed)
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (T, N))
    y = rng.integers(0, V, (T, N))
    state = [tuple((0.5 * rng.normal(size=(N, H))).astype(dtype) for _ in s) for s in model.initial_state(N)]
    return model, x, y, state


# V=5 <= T*N=6 takes the embedding-projection table path, V=9 the gather path.
@pytest.mark.slow  # 19.5 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("V", [5, 9])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru", "lstm-peephole", "lstm-coupled", "rnn-tanh"])
def test_model_gradients_match_finite_differences(cell, tied, dropout, V):
    model, x, y, state = make(cell, V, tied, dropout)

    def loss():
        model.refresh()
        # The same dropout masks on every evaluation: a fresh generator with the same seed.
        rng = np.random.default_rng(5) if dropout else None
        return model.train_step(x, y, state, rng)[0]

    loss()
    analytic = model.store.grad.copy()
    numeric = numeric_gradient(loss, model.store.data, h=3e-3)
    errors = {
        name: max_relative_error(model.store.view(analytic, name), model.store.view(numeric, name))
        for name in model.store.names()
    }
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-relu"])
def test_loss_matches_reference_with_dropout_masks(cell, tied):
    p = 0.4
    model, x, y, state = make(cell, 9, tied, p)
    loss, finals = model.train_step(x, y, state, np.random.default_rng(7))
    # Rebuild the masks from the same stream, in the model's order: embedding, between layers, decoder.
    rng = np.random.default_rng(7)
    M, E = T * N, model.config.embed_size
    masks = [(rng.random((M, width)) >= p).reshape(T, N, width) / (1 - p) for width in (E, H, H)]
    want, want_finals = naive.lm_loss(cell, model.params, 2, x, y, state, tied, masks)
    assert abs(loss - want) <= 1e-12
    for got, ref in zip(finals, want_finals):
        for a, b in zip(got, ref):
            assert np.abs(a - b).max() <= 1e-12


def test_projection_table_path_equals_gather_path(monkeypatch):
    model, x, y, state = make("lstm", V=5)
    loss_table, _ = model.train_step(x, y, state)
    grad_table = model.store.grad.copy()
    monkeypatch.setattr(model, "_use_projection_table", lambda *a: False)
    loss_gather, _ = model.train_step(x, y, state)
    assert abs(loss_table - loss_gather) <= 1e-13
    assert np.abs(grad_table - model.store.grad).max() <= 1e-13


def test_eval_loss_equals_training_loss_without_dropout():
    model, x, y, state = make("gru", V=9)
    mean_loss, finals = model.train_step(x, y, state)
    total, eval_finals = model.loss(x, y, state)
    assert abs(total / x.size - mean_loss) <= 1e-12
    assert all(np.array_equal(a, b) for s, t in zip(finals, eval_finals) for a, b in zip(s, t))


def test_step_logits_follow_the_window_forward():
    model, x, y, state = make("lstm", V=9)
    logits, s1 = model.step_logits(x[0], state)
    # The loss of a 1-step window computed from those logits.
    lp = naive.log_softmax(logits)
    want = -lp[np.arange(N), y[0]].sum()
    total, s2 = model.loss(x[:1], y[:1], state)
    assert abs(total - want) <= 1e-12


def test_uniform_output_has_perplexity_equal_to_vocabulary_size():
    V = 9
    model, x, y, state = make("lstm", V)
    model.params["decoder.weight"][:] = 0
    model.params["decoder.bias"][:] = 0.37  # any constant: the softmax is uniform
    total, _ = model.loss(x, y, state)
    assert np.isclose(np.exp(total / x.size), V, rtol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradient_does_not_cross_the_window_edge(cell):
    """Window 2's gradient treats the state carried from window 1 as a constant: it equals the
    finite-difference gradient with that state held fixed, not the one where window 1 is re-run
    with the perturbed parameters (full backpropagation through both windows)."""
    model, x, y, state0 = make(cell, V=9)
    x2, y2 = y, x  # a second window
    _, carried = model.train_step(x, y, state0)
    model.train_step(x2, y2, carried)
    analytic = model.store.grad.copy()

    def window2_detached():
        model.refresh()
        return model.train_step(x2, y2, carried)[0]

    def window2_through_window1():
        model.refresh()
        _, carried_now = model.train_step(x, y, state0)
        return model.train_step(x2, y2, carried_now)[0]

    name = "rnn.weight_hh_l0"
    view = model.store.view
    detached = numeric_gradient(window2_detached, model.params[name], h=3e-3)
    full = numeric_gradient(window2_through_window1, model.params[name], h=3e-3)
    assert max_relative_error(view(analytic, name), detached) <= 1e-6
    assert max_relative_error(view(analytic, name), full) > 1e-3


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh", "lstm-peephole", "lstm-coupled"])
def test_float32_model_agrees_with_float64(cell):
    results = []
    for dtype in (np.float64, np.float32):
        model, x, y, state = make(cell, V=9, dtype=dtype, init_scale=0.3)
        loss, _ = model.train_step(x, y, state)
        results.append((loss, model.store.grad.astype(np.float64)))
    (l64, g64), (l32, g32) = results
    assert abs(l64 - l32) <= 1e-5
    assert np.abs(g64 - g32).max() <= 1e-5 * max(1.0, np.abs(g64).max())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("position", [0, 7, 64])
def test_a_non_finite_logit_makes_the_loss_non_finite(bad, position):
    """The row maximum is computed with the no-NaN fast-math flag (for speed): whatever it finds,
    a NaN or infinite logit must still reach the loss, so the trainer sees the divergence."""
    from charlm.core.kernels import softmax as softmax_k

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 65)).astype(np.float32)
    logits[1, position] = bad
    bias, targets = np.zeros(65, np.float32), np.array([1, 2, 3], np.int32)
    dbias = np.zeros(65, np.float32)
    forward_only = softmax_k.cross_entropy(logits.copy(), bias, targets)
    with_gradient = softmax_k.softmax_cross_entropy(logits.copy(), bias, targets, 1.0, dbias)
    if bad == -np.inf:  # a logit of -inf is a probability of 0: legitimate unless it is the target's
        assert np.isfinite(forward_only) and np.isfinite(with_gradient)
    else:
        assert not np.isfinite(forward_only) and not np.isfinite(with_gradient)
