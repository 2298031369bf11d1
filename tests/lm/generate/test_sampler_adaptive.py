"""Sampling from a model whose output layer is the adaptive softmax: the Python loop through
``step_logits`` keeps the jitted loop's contract (the same ids for a full-softmax model, the same
seed), and its draws follow the adaptive softmax's distribution."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.lm.config import ModelConfig
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.lm.generate.sampler import Sampler


def test_the_python_loop_draws_the_jitted_loops_ids():
    model = RecurrentLanguageModel(ModelConfig(vocab_size=40, hidden_size=16, layers=2), np.float64, seed=3)
    runs = []
    for through_model in (False, True):
        sampler = Sampler(model, temperature=0.9, top_k=12, seed=7)
        if through_model:
            sampler._weights = None  # what an adaptive model does
        sampler.prime(np.array([1, 5, 9]))
        ids, logits = sampler.run(25, num_samples=3, record_logits=True)
        runs.append((ids, logits, sampler.next_tokens, sampler.state))
    (ids_a, logits_a, next_a, state_a), (ids_b, logits_b, next_b, state_b) = runs
    np.testing.assert_array_equal(ids_a, ids_b)
    np.testing.assert_allclose(logits_a, logits_b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(next_a, next_b)
    for (h_a, c_a), (h_b, c_b) in zip(state_a, state_b):
        np.testing.assert_allclose(h_a, h_b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c_a, c_b, rtol=1e-10, atol=1e-12)


def test_adaptive_draws_follow_the_models_probabilities():
    config = ModelConfig(vocab_size=30, hidden_size=8, layers=1, softmax="adaptive", cutoffs=[5, 12], tail_div=2.0)
    model = RecurrentLanguageModel(config, np.float64, seed=2)
    for name, array in model.params.items():  # a peaked distribution with mass in every cluster
        if name.startswith("decoder."):
            array *= 20
    n = 20_000
    sampler = Sampler(model, seed=11)
    sampler.prime(np.array([3]))
    ids, logits = sampler.run(1, num_samples=n, record_logits=True)
    probs = np.exp(logits[0, 0])
    assert probs.sum() == pytest.approx(1.0, rel=1e-12)
    assert probs[:5].sum() < 0.9 and probs[12:].sum() > 0.02  # the tails are sampled too
    counts = np.bincount(ids[:, 0], minlength=30)
    # each count within 5 standard deviations of its expectation
    assert np.all(np.abs(counts - n * probs) <= 5 * np.sqrt(n * probs * (1 - probs)) + 1)


def test_a_beam_through_the_adaptive_softmax_finds_the_most_likely_pair():
    """A beam as wide as the vocabulary over two tokens is exhaustive: its best hypothesis is
    the arg-max of log p(a) + log p(b | a) over every pair, computed here through step_logits."""
    from charlm.lm.generate.beam import beam_search

    config = ModelConfig(vocab_size=14, hidden_size=8, layers=2, softmax="adaptive", cutoffs=[4, 9], tail_div=2.0)
    model = RecurrentLanguageModel(config, np.float64, seed=5)
    rng = np.random.default_rng(1)
    for array in model.params.values():
        array[...] = rng.uniform(-1.5, 1.5, array.shape)
    model.refresh()
    prime = np.array([3, 7])
    found = beam_search(model, beam=14, length=2, prime_ids=prime)
    _, state = model.outputs(prime[:-1, None], model.initial_state(1))
    first, state = model.step_logits(prime[-1:], state)
    totals = np.empty((14, 14))
    for a in range(14):
        second, _ = model.step_logits(np.array([a]), state)
        totals[a] = first[0, a] + second[0]
    a, b = np.unravel_index(np.argmax(totals), totals.shape)
    np.testing.assert_array_equal(found[0].ids, [a, b])
    assert found[0].log_prob == pytest.approx(totals[a, b], abs=1e-9)
    assert [hyp.log_prob for hyp in found] == pytest.approx(sorted(totals.ravel())[::-1][:14], abs=1e-9)
