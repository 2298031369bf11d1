"""The end-to-end memory network language model (lm/memory_model.py): its gradient against finite
differences in float64, the memories a window builds (newest first, cut at document starts,
carried across windows), and a window's predictions equal to one token at a time."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.errors import ConfigError
from charlm.lm.config import ModelConfig
from charlm.lm.models.memory import MemoryLanguageModel
from tests.helpers.gradcheck import numeric_gradient

V, T, N, D, M = 12, 5, 3, 6, 4


def make(hops=3, linear_units=None, dtype=np.float64, seed=1):
    config = ModelConfig(vocab_size=V, model="memn2n", hidden_size=D, memory=M, hops=hops, linear_units=linear_units)
    model = MemoryLanguageModel(config, dtype, seed=seed)
    for array in model.params.values():  # larger than the recipe's 0.05: attention far from uniform
        array *= 4
    return model


def naive_top_query(model, memory_ids):
    """u_K for one example, straight from the paper's equations, memory_ids newest first."""
    p, cfg = model.params, model.config
    u = np.full(cfg.hidden_size, 0.1)
    m = np.array([p["memory.A"][t] + p["memory.T_A"][i] for i, t in enumerate(memory_ids)])
    c = np.array([p["memory.C"][t] + p["memory.T_C"][i] for i, t in enumerate(memory_ids)])
    for _ in range(cfg.hops):
        o = np.zeros_like(u)
        if len(memory_ids):
            s = m @ u
            w = np.exp(s - s.max())
            o = (w / w.sum()) @ c
        u = p["hop.H"] @ u + o
        u[cfg.linear_units:] = np.maximum(u[cfg.linear_units:], 0)
    return u


def window(seed=0, T=T, N=N):
    """A window with a masked target, carried memories (full, empty, partial) and a document
    starting in row 0 at step 2."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    y[2, 1] = -1
    state = [(np.array([[3, 1, -1, -1], [-1, -1, -1, -1], [5, 6, 7, 8]])[:N],)]
    return x, y, state, [(2, np.array([0]))]


def relu_margin(model, x, state, resets) -> float:
    """The smallest |pre-activation| of a ReLU unit over every hop and example."""
    _, _, s = model._forward(x, state, resets)
    cfg, p = model.config, model.params
    if cfg.linear_units == cfg.hidden_size:
        return np.inf
    filled = s["ctx"] >= 0
    out = np.where(filled[..., None], p["memory.C"][s["ctx"]] + p["memory.T_C"], 0)  # (E, M, D)
    return min(float(np.abs((s["u"][k] @ p["hop.H"].T + np.einsum("em,emd->ed", s["p"][k], out))[:, cfg.linear_units:]).min())
               for k in range(cfg.hops))


def gradient_errors(model, loss, h: float) -> dict[str, float]:
    """max |analytic - numeric| / max |analytic| per parameter array. Normwise, not entry by
    entry: the attention's gradient (the query starts at 0.1) holds entries near 1e-8, where
    float64 finite differences (~1e-13 absolute) cannot resolve a relative error."""
    loss()
    analytic = model.store.grad.copy()
    numeric = numeric_gradient(loss, model.store.data, h=h)
    return {name: float(np.abs(model.store.view(analytic, name) - model.store.view(numeric, name)).max()
                        / np.abs(model.store.view(analytic, name)).max()) for name in model.store.names()}


@pytest.mark.parametrize("hops", [1, 3])
def test_the_gradient_matches_finite_differences_without_relu(hops):
    model = make(hops, linear_units=D)
    x, y, state, resets = window()
    errors = gradient_errors(model, lambda: model.train_step(x, y, state, None, resets)[0], h=3e-3)
    assert max(errors.values()) <= 1e-8, errors
    assert set(errors) == {"memory.A", "memory.T_A", "memory.C", "memory.T_C", "hop.H", "decoder.weight"}


@pytest.mark.parametrize("hops, linear_units", [(1, None), (3, None), (2, 0)])
def test_the_gradient_matches_finite_differences_through_the_relu(hops, linear_units):
    """At a point where no ReLU unit is within reach of its kink for the stencil's steps (the
    margin is checked, over seeds): there a finite difference is exact to the stencil's order."""
    h = 1e-4
    for seed in range(100):
        model = make(hops, linear_units, seed=seed)
        x, y, state, resets = window(seed, T=3, N=2)
        if relu_margin(model, x, state, resets) > 20 * h:
            break
    else:
        pytest.fail("no kink-free point among 100 seeds")
    errors = gradient_errors(model, lambda: model.train_step(x, y, state, None, resets)[0], h=h)
    assert max(errors.values()) <= 1e-7, errors


def test_each_example_remembers_the_tokens_before_its_target_newest_first():
    model = make()
    x = np.array([[1, 2], [3, 4], [5, 6]])
    carried = np.array([[9, 8, 7, -1], [-1, -1, -1, -1]])
    _, [(new,)], saved = model._forward(x, [(carried,)], resets=[(1, np.array([1]))])
    ctx, n_valid = saved["ctx"], saved["n_valid"]
    # example e = t * N + n
    np.testing.assert_array_equal(ctx[0], [1, 9, 8, 7])
    np.testing.assert_array_equal(ctx[2], [3, 1, 9, 8])
    np.testing.assert_array_equal(ctx[1], [2, -1, -1, -1])
    np.testing.assert_array_equal(ctx[3], [4, -1, -1, -1])  # row 1 starts a document at t = 1
    np.testing.assert_array_equal(ctx[5], [6, 4, -1, -1])
    np.testing.assert_array_equal(n_valid, [4, 1, 4, 1, 4, 2])
    np.testing.assert_array_equal(new, [[5, 3, 1, 9], [6, 4, -1, -1]])


@pytest.mark.parametrize("starts, expected", [
    (np.array([0, 6, 9]), [[-1, -1, -1, -1], [101, 100, -1, -1], [-1, -1, -1, -1], [106, -1, -1, -1],
                           [-1, -1, -1, -1], [114, 113, 112, 111], [118, 117, 116, 115]]),
    (np.array([], np.int64), [[-1, -1, -1, -1], [101, 100, -1, -1], [105, 104, 103, 102], [106, 105, 104, 103],
                              [108, 107, 106, 105], [114, 113, 112, 111], [118, 117, 116, 115]]),
])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int64])  # the corpus' id types
def test_a_stream_starting_anywhere_remembers_the_text_before_it_in_its_document(starts, expected, dtype):
    tokens = np.arange(100, 120, dtype=dtype)
    [(memory,)] = make().state_before(tokens, np.array([0, 2, 6, 7, 9, 15, 19]), starts)
    assert memory.dtype == np.int64
    np.testing.assert_array_equal(memory, expected)  # an empty slot is -1, whatever the ids' type


def test_the_model_is_the_papers_equations_and_a_window_is_one_token_at_a_time():
    model = make(hops=3)
    rng = np.random.default_rng(2)
    text = rng.integers(0, V, (9, 2))
    window, _ = model.outputs(text, model.initial_state(2))
    state = model.initial_state(2)
    for t in range(9):
        logits, state = model.step_logits(text[t], state)
        np.testing.assert_allclose(logits, window[t] @ model.params["decoder.weight"].T, rtol=1e-12, atol=1e-12)
        for n in range(2):
            history = list(text[max(0, t - M + 1):t + 1, n][::-1])
            np.testing.assert_allclose(window[t, n], naive_top_query(model, history), rtol=1e-12, atol=1e-12)


def test_the_training_loss_is_the_evaluation_loss():
    model = make()
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    state = model.initial_state(N)
    mean, after_train = model.train_step(x, y, state)
    summed, after_eval = model.loss(x, y, state)
    assert summed / y.size == pytest.approx(mean, rel=1e-12)
    np.testing.assert_array_equal(after_train[0][0], after_eval[0][0])


def test_the_attention_is_a_distribution_over_the_filled_slots():
    model = make(hops=2)
    x = np.array([[1], [2]])
    _, _, _, extras = model.inspect_window(x, model.initial_state(1))
    attention, ctx = extras["attention"], extras["memory"]
    assert attention.shape == (2, 2, M)  # (positions, hops, slots)
    np.testing.assert_allclose(attention.sum(axis=2), 1.0, rtol=1e-12)
    assert (attention[0, :, 1:] == 0).all() and (attention[1, :, 2:] == 0).all()
    np.testing.assert_array_equal(ctx[1], [2, 1, -1, -1])


@pytest.mark.parametrize("settings, fragment", [
    ({"memory": 0}, "--memory must be a positive integer"),
    ({"hops": 0}, "--hops must be a positive integer"),
    ({"linear_units": 7}, "--linear-units must be an integer from 0 to the hidden size 6"),
    ({"model": "transformer"}, "unknown model 'transformer'"),
])
def test_impossible_settings_are_refused(settings, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ModelConfig(vocab_size=V, hidden_size=D, **{"model": "memn2n", **settings})


def test_evaluation_in_streams_is_one_reader_also_across_documents():
    """Each stream starts with the memory of the text before it, none from before its document."""
    from charlm.lm.measure.evaluate import evaluate

    model = make(hops=2, dtype=np.float64)
    tokens = np.random.default_rng(4).integers(0, V, 120)
    starts = np.array([0, 37, 61])
    one = evaluate(model, tokens, batch_size=1, seq_len=500, starts=starts)
    for batch_size, seq_len in ((4, 3), (9, 1)):
        streams = evaluate(model, tokens, batch_size=batch_size, seq_len=seq_len, starts=starts)
        assert streams.tokens == one.tokens == 119 - 2
        assert streams.loss_sum == pytest.approx(one.loss_sum, rel=1e-12)


def test_a_beam_as_wide_as_the_vocabulary_finds_the_most_likely_pair():
    """Over two tokens such a beam is exhaustive: its hypotheses are the best pairs by
    log p(a) + log p(b | a), computed here through step_logits."""
    from charlm.lm.generate.beam import beam_search

    model = make(hops=2)
    prime = np.array([3, 7, 1])
    found = beam_search(model, beam=V, length=2, prime_ids=prime)
    state = model.initial_state(1)
    for token in prime[:-1]:
        _, state = model.step_logits(np.array([token]), state)

    def log_softmax(z):
        z = z - z.max()
        return z - np.log(np.exp(z).sum())

    first, after = model.step_logits(prime[-1:], state)
    totals = np.array([log_softmax(first[0])[a] + log_softmax(model.step_logits(np.array([a]), after)[0][0])
                       for a in range(V)])
    a, b = np.unravel_index(np.argmax(totals), totals.shape)
    np.testing.assert_array_equal(found[0].ids, [a, b])
    assert [hyp.log_prob for hyp in found] == pytest.approx(sorted(totals.ravel())[::-1][:V], abs=1e-9)


def split_into(monkeypatch, parts: int) -> None:
    """Make the model split every window into ``parts`` threads, however small the window."""
    import charlm.lm.models.memory as memory_model

    monkeypatch.setattr(memory_model, "MIN_EXAMPLES_PER_THREAD", 1)
    monkeypatch.setattr(memory_model, "thread_parts", lambda limit=None: min(parts, limit or parts))


@pytest.mark.slow  # 1.0 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_the_gradient_split_over_threads_matches_finite_differences(monkeypatch):
    """Three parts: uneven runs of examples, and the tables' rows dealt out by token id mod 3."""
    split_into(monkeypatch, 3)
    model = make(3, linear_units=D)
    x, y, state, resets = window()
    assert model._parts(x.size) == 3
    errors = gradient_errors(model, lambda: model.train_step(x, y, state, None, resets)[0], h=3e-3)
    assert max(errors.values()) <= 1e-8, errors


@pytest.mark.parametrize("parts", [2, 3])
def test_a_step_split_over_threads_is_the_step_on_one(monkeypatch, parts):
    x, y, state, resets = window(seed=4)
    results = []
    for count in (1, parts):
        split_into(monkeypatch, count)
        model = make(3)
        loss, new_state = model.train_step(x, y, state, None, resets)
        results.append((loss, model.store.grad.copy(), new_state[0][0]))
    (loss1, grad1, state1), (loss2, grad2, state2) = results
    assert loss2 == pytest.approx(loss1, rel=1e-13)
    np.testing.assert_allclose(grad2, grad1, rtol=0, atol=1e-12 * np.abs(grad1).max())
    assert np.array_equal(state2, state1)
