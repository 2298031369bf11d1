"""Document boundaries inside a window (a corpus of several files): the state of a stream is
reset where a document begins and the target across the boundary is masked, so a window that
holds two documents gives exactly the loss and gradients of the two documents run apart."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.core.recurrent import RecurrentLayer
from charlm.lm.data.batching import batchify, document_breaks, windows
from charlm.lm.config import ModelConfig
from charlm.lm.measure.evaluate import evaluate
from charlm.lm.models.recurrent import RecurrentLanguageModel
from tests.helpers.gradcheck import model_gradient_errors

CELLS = ["lstm", "gru", "lstm-peephole", "lstm-coupled", "rnn-tanh", "rnn-relu"]
V, H = 7, 5


def make(cell, layers=2, dtype=np.float64, seed=3):
    config = ModelConfig(vocab_size=V, cell=cell, hidden_size=H, layers=layers, init_scale=0.8)
    return RecurrentLanguageModel(config, dtype, seed=seed)


def random_state(model, N, rng):
    return [tuple(0.5 * rng.normal(size=(N, H)) for _ in s) for s in model.initial_state(N)]


@pytest.fixture(params=[True, False], ids=["fused", "python-loop"])
def time_loop(request, monkeypatch):
    if request.param and not RecurrentLayer.fused:
        pytest.skip("the jitted time loop needs numpy's OpenBLAS, absent here")
    monkeypatch.setattr(RecurrentLayer, "fused", request.param)


def rows_of(state, rows):
    return [tuple(part[rows].copy() for part in layer) for layer in state]


@pytest.mark.parametrize("cell", CELLS)
def test_a_window_holding_two_documents_equals_the_documents_run_apart(cell, time_loop):
    """Stream 0 holds the end of document A (steps 0..4) and the start of B (5..7); stream 1 one
    document throughout. Together: one loss, one gradient. Apart: A from the carried state with
    its last target masked, B from zero, stream 1 alone. They must agree, weighted by targets."""
    rng = np.random.default_rng(1)
    model = make(cell)
    T, split = 8, 5
    x = rng.integers(0, V, (T, 2))
    y = rng.integers(0, V, (T, 2))
    state = random_state(model, 2, rng)
    y_masked = y.copy()
    y_masked[split - 1, 0] = -1
    loss, final = model.train_step(x, y_masked, state, resets=((split, np.array([0])),))
    together = model.store.grad.copy()

    parts = []  # (mean loss, gradient, targets, final state)
    ya = y_masked[:split, :1]
    for xs, ys, start in ((x[:split, :1], ya, rows_of(state, slice(0, 1))),
                          (x[split:, :1], y[split:, :1], model.initial_state(1)),
                          (x[:, 1:], y[:, 1:], rows_of(state, slice(1, 2)))):
        part_loss, part_final = model.train_step(np.ascontiguousarray(xs), np.ascontiguousarray(ys), start)
        parts.append((part_loss, model.store.grad.copy(), int(np.count_nonzero(ys >= 0)), part_final))
    n = sum(p[2] for p in parts)
    assert n == 2 * T - 1
    assert loss == pytest.approx(sum(p[0] * p[2] for p in parts) / n, rel=1e-12)
    np.testing.assert_allclose(together, sum(p[1] * p[2] for p in parts) / n, rtol=1e-9, atol=1e-13)
    for layer, (b_final, s1_final) in enumerate(zip(parts[1][3], parts[2][3])):
        for got, want_b, want_1 in zip(final[layer], b_final, s1_final):
            np.testing.assert_allclose(got[0], want_b[0], rtol=0, atol=1e-13)  # B does not remember A
            np.testing.assert_allclose(got[1], want_1[0], rtol=0, atol=1e-13)


@pytest.mark.slow  # 26.4 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_with_resets_match_finite_differences(cell, time_loop):
    rng = np.random.default_rng(2)
    model = make(cell)
    T, N = 6, 3
    x = rng.integers(0, V, (T, N))
    y = rng.integers(0, V, (T, N))
    state = random_state(model, N, rng)
    resets = ((0, np.array([2])), (2, np.array([0, 1])), (5, np.array([1])))
    y[1, 0] = y[1, 1] = y[4, 1] = -1

    def loss():
        model.refresh()
        return model.train_step(x, y, state, resets=resets)[0]

    errors = model_gradient_errors(model, loss)
    assert max(errors.values()) <= 1e-6, errors


def test_a_reset_leaves_the_outputs_before_it_alone():
    """h[t] is step t-1's output and the state entering step t: zeroing it for the reset must not
    change what step t-1 handed to the layer above or to the decoder."""
    rng = np.random.default_rng(4)
    model = make("lstm")
    x = rng.integers(0, V, (6, 2))
    state = random_state(model, 2, rng)
    plain, _ = model.outputs(x, state)
    dec_in, _, _ = model._forward(x, state, None, ((3, np.array([1])),))
    with_reset = dec_in.reshape(6, 2, H)
    np.testing.assert_array_equal(with_reset[:3], plain[:3])
    np.testing.assert_array_equal(with_reset[:, 0], plain[:, 0])
    assert not np.allclose(with_reset[3:, 1], plain[3:, 1])


def test_document_breaks_mask_the_crossing_targets_and_reset_the_first_tokens():
    tokens = np.arange(24)
    starts = np.array([5, 12, 13])  # documents [0,5) [5,12) [12,13) [13,24)
    streams = batchify(tokens, 2)  # rows: tokens 0..11 and 12..23
    offsets = np.array([0, 12])
    seen_resets, masked = [], []
    for position, x, y in windows(streams, 4):
        resets = document_breaks(starts, offsets, position, y)
        for t, rows in resets:
            seen_resets.extend(int(x[t, r]) for r in rows)
        masked.extend(int(x[t, r]) + 1 for t, r in zip(*np.nonzero(y < 0)))
    # Every document's first token that a stream reads after another document resets its row
    # (12 begins stream 1, so its row starts cold anyway: resetting it is harmless) ...
    assert sorted(seen_resets) == [5, 12, 13]
    # ... and no target is a document's first token read from the document before (12 begins
    # stream 1: no target in stream 0 is token 12, since that stream ends at 11).
    assert sorted(masked) == [5, 13]


def test_evaluation_resets_at_documents_like_evaluating_them_apart():
    rng = np.random.default_rng(5)
    model = make("gru", layers=1)
    a, b = rng.integers(0, V, 40), rng.integers(0, V, 33)
    both = evaluate(model, np.concatenate([a, b]), batch_size=1, seq_len=8, starts=np.array([a.size]))
    apart = [evaluate(model, part, batch_size=1, seq_len=8) for part in (a, b)]
    assert both.tokens == sum(e.tokens for e in apart) == a.size + b.size - 2
    assert both.loss_sum == pytest.approx(sum(e.loss_sum for e in apart), rel=1e-12)
