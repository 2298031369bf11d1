"""The jitted generation loop against the model's slow step-by-step reference, and the sampler's
statistics (temperature, top-k, top-p, seeds, streams) on models whose output distribution is known."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.lm.config import ModelConfig
from charlm.errors import ConfigError, UnusableWeights
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.core.recurrent import CELLS
from charlm.lm.generate.sampler import Sampler

V, H, L = 7, 5, 2  # fixed tiny shapes: the loop compiles once per dtype
PRIME = [3, 1, 4, 1, 5]
TOL = {np.float64: 1e-10, np.float32: 1e-4}


def make(cell="lstm", dtype=np.float64, tied=False, seed=1, vocab=V):
    config = ModelConfig(vocab_size=vocab, cell=cell, hidden_size=H, layers=L, tie_weights=tied, init_scale=0.8)
    model = RecurrentLanguageModel(config, dtype, seed=seed)
    model.params["decoder.bias"][:] = np.random.default_rng(seed).uniform(-1, 1, vocab)
    return model


def fixed_distribution(logits, dtype=np.float32):
    """A model whose logits are ``logits`` at every step, whatever the input and state."""
    model = make("lstm", dtype, vocab=len(logits))
    for name, array in model.params.items():
        array[...] = 0
    model.params["decoder.bias"][:] = logits
    return model


def reference_run(model, prime, inputs):
    """step_logits fed the prime, then inputs (S, N): the logits (S, N, V) and the final state."""
    N = inputs.shape[1]
    state = model.initial_state(1)
    for token in prime[:-1]:
        _, state = model.step_logits(np.array([token]), state)
    state = [tuple(np.repeat(s, N, axis=0) for s in layer) for layer in state]
    logits = []
    for tokens in inputs:
        step, state = model.step_logits(tokens, state)
        logits.append(step)
    return np.array(logits), state


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def counts(ids, size=V):
    return np.bincount(ids.ravel(), minlength=size)


# ------------------------------------------------------------------- the loop against step_logits
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", list(CELLS))
def test_sampled_logits_and_state_match_step_logits(cell, dtype):
    model = make(cell, dtype)
    sampler = Sampler(model, temperature=0.9, seed=2)
    sampler.prime(PRIME)
    ids, logits = sampler.run(6, num_samples=3, record_logits=True)
    # The reference feeds the last prime token, then each stream's own samples.
    inputs = np.concatenate([np.full((1, 3), PRIME[-1]), ids.T[:-1]])
    want, state = reference_run(model, PRIME, inputs)
    assert np.abs(logits - want).max() <= TOL[dtype]
    for got, ref in zip(sampler.state, state, strict=True):
        for a, b in zip(got, ref, strict=True):
            assert np.abs(a - b).max() <= TOL[dtype]
    assert np.array_equal(sampler.next_tokens, ids[:, -1])
    assert len({tuple(row) for row in ids}) > 1  # the streams drew differently


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-relu"])
def test_greedy_ids_equal_an_argmax_loop_over_step_logits(cell, tied):
    model = make(cell, tied=tied)
    sampler = Sampler(model, greedy=True)
    sampler.prime(PRIME)
    ids, _ = sampler.run(12)
    state = model.initial_state(1)
    for token in PRIME[:-1]:
        _, state = model.step_logits(np.array([token]), state)
    token, want = PRIME[-1], []
    for _ in range(12):
        logits, state = model.step_logits(np.array([token]), state)
        token = int(np.argmax(logits[0]))
        want.append(token)
    assert ids[0].tolist() == want


def test_greedy_breaks_ties_by_lower_id_as_argmax():
    ids, _ = Sampler(fixed_distribution(np.array([0.0, 1.0, 0.5, 1.0, 0.0, 1.0, -1.0])), greedy=True).run(3)
    assert ids.tolist() == [[1, 1, 1]]


def test_no_prime_starts_from_zero_state_and_the_start_token():
    model = make("gru")
    sampler = Sampler(model, seed=0, start_token=6)
    _, logits = sampler.run(1, record_logits=True)
    want, _ = model.step_logits(np.array([6]), model.initial_state(1))
    assert np.abs(logits[0] - want).max() <= 1e-10


# ------------------------------------------------------------------- seeds, chunks and streams
def test_same_seed_same_ids_different_seed_different_ids():
    model = make("lstm", np.float32)

    def draw(seed):
        sampler = Sampler(model, seed=seed, top_k=5, top_p=0.95)
        sampler.prime(PRIME)
        return sampler.run(60, num_samples=2)[0]

    assert np.array_equal(draw(11), draw(11))
    assert not np.array_equal(draw(11), draw(12))


def test_chunks_continue_one_long_run():
    model = make("lstm-peephole", np.float32)
    whole, chunked = Sampler(model, seed=5, top_p=0.9), Sampler(model, seed=5, top_p=0.9)
    for sampler in (whole, chunked):
        sampler.prime(PRIME)
    want, _ = whole.run(50, num_samples=2)
    chunks = list(chunked.generate(50, num_samples=2, first_chunk=1, max_chunk=7, chunk_seconds=1e9))
    assert [c.shape[1] for c in chunks][:3] == [1, 4, 7]
    assert np.array_equal(np.concatenate(chunks, axis=1), want)
    for a, b in zip(whole.state, chunked.state):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # And the two go on alike.
    assert np.array_equal(whole.run(5, 2)[0], chunked.run(5, 2)[0])


def test_first_chunk_is_small_and_later_chunks_grow():
    sampler = Sampler(make("rnn-tanh", np.float32), seed=0)
    sizes = [c.shape[1] for c in sampler.generate(300, chunk_seconds=1e9, max_chunk=64)]
    assert sizes == [1, 4, 16, 64, 64, 64, 64, 23]


def test_num_samples_rows_are_independent_draws():
    p = softmax(np.array([1.0, 0.5, 0.0, -0.5, 0.2, 0.8, -1.0]))
    sampler = Sampler(fixed_distribution(np.log(p)), seed=3)
    ids, _ = sampler.run(4000, num_samples=3)
    # Two independent streams agree at a position with probability sum(p^2).
    agree = np.mean(ids[0] == ids[1])
    assert abs(agree - np.sum(p**2)) <= 0.03
    again = Sampler(fixed_distribution(np.log(p)), seed=3).run(4000, num_samples=3)[0]
    assert np.array_equal(ids, again)


def test_streams_must_match_the_carried_state():
    sampler = Sampler(make("gru"), seed=0)
    sampler.run(2, num_samples=3)
    with pytest.raises(ConfigError, match="3 streams"):
        sampler.run(2, num_samples=2)
    sampler.prime(PRIME)  # back to one stream, which any count can branch from
    assert sampler.run(2, num_samples=2)[0].shape == (2, 2)


def test_greedy_draws_no_random_numbers():
    sampler = Sampler(make("lstm"), greedy=True)  # (a seed with greedy is refused: it would draw nothing)
    before = sampler.rng.bit_generator.state
    sampler.run(20, num_samples=2)
    assert sampler.rng.bit_generator.state == before


# ------------------------------------------------------------------- the sampling distribution
LOGITS = np.array([0.3, 1.2, -0.4, 0.9, 0.0, -1.5, 0.6])


@pytest.mark.parametrize("temperature", [1.0, 0.6, 2.5])
def test_frequencies_match_softmax_of_logits_over_temperature(temperature):
    n = 30_000
    ids, _ = Sampler(fixed_distribution(LOGITS), temperature=temperature, seed=7).run(n)
    expected = n * softmax(LOGITS / temperature)
    chi2 = np.sum((counts(ids) - expected) ** 2 / expected)
    assert chi2 < 22.46  # the 99.9% point of chi-square with V - 1 = 6 degrees of freedom


def test_low_temperature_concentrates_on_the_argmax():
    top = int(np.argmax(LOGITS))
    share = []
    for temperature in (2.0, 1.0, 0.5, 0.1, 1e-40):
        ids, _ = Sampler(fixed_distribution(LOGITS), temperature=temperature, seed=1).run(5000)
        share.append(np.mean(ids == top))
    assert share == sorted(share) and share[0] < 0.4
    assert share[-1] == 1.0  # 1/T overflows float32 and still no NaN


@pytest.mark.parametrize("k", [1, 3, V])
def test_top_k_keeps_the_k_most_likely_tokens(k):
    n = 20_000
    ids, _ = Sampler(fixed_distribution(LOGITS), top_k=k, seed=8).run(n)
    keep = np.argsort(-LOGITS)[:k]
    assert set(np.unique(ids)) == set(keep.tolist())
    p = np.zeros(V)
    p[keep] = softmax(LOGITS[keep])
    assert 0.5 * np.abs(counts(ids) / n - p).sum() <= 0.015


@pytest.mark.parametrize("k", [V, V + 1, 10 * V])
def test_top_k_at_or_above_the_vocabulary_keeps_every_token(k):
    """`--top-k 100` on a 65-character model is no error: it keeps them all, as 0 does."""
    model = make("lstm", np.float32)

    def draw(top_k):
        sampler = Sampler(model, seed=3, top_k=top_k)
        sampler.prime(PRIME)
        return sampler.run(60)[0]

    assert np.array_equal(draw(k), draw(0))


def test_top_k_breaks_ties_by_lower_id():
    ids, _ = Sampler(fixed_distribution(np.array([0.0, 1.0, 1.0, 1.0, 0.0, 1.0, -1.0])), top_k=2, seed=0).run(2000)
    assert set(np.unique(ids)) == {1, 2}


def kept_tokens(logits, top_k, top_p):
    """The ids top-k then top-p keep, from a full stable sort (the definition, in float64)."""
    order = np.argsort(-logits, kind="stable")
    if top_k:
        order = order[:top_k]
    p = np.exp(logits[order] - logits.max())
    total = p.sum() if top_k else np.exp(logits - logits.max()).sum()
    count = np.searchsorted(np.cumsum(p), top_p * total) + 1 if top_p < 1 else len(order)
    return set(order[:count].tolist())


@pytest.mark.parametrize(
    "top_k, top_p", [(10, 1.0), (64, 1.0), (75, 1.0), (0, 0.5), (0, 0.995), (75, 0.5), (10, 0.3)]
)
def test_every_candidate_path_keeps_what_a_full_sort_keeps(top_k, top_p):
    # 100 tokens: 70 tied at the top (so ties at the cut are decided by id), 30 far below.
    # top-k < 64 inserts into a sorted list, larger k partitions, top-p alone halves a threshold.
    rng = np.random.default_rng(0)
    logits = np.full(100, -3.0)
    logits[rng.permutation(100)[:70]] = 0.0
    logits[rng.permutation(100)[:5]] = -1.0
    want = kept_tokens(logits, top_k, top_p)
    assert 3 <= len(want) < 100
    ids, _ = Sampler(fixed_distribution(logits), top_k=top_k, top_p=top_p, seed=1).run(20_000)
    assert set(np.unique(ids).tolist()) == want


@pytest.mark.parametrize("top_p", [0.3, 0.6, 0.8])
def test_top_p_over_a_large_vocabulary_matches_a_full_sort(top_p):
    logits = np.random.default_rng(3).normal(0.0, 1.0, 100).astype(np.float32)  # 5, 22, 42 kept
    want = sorted(kept_tokens(logits.astype(np.float64), 0, top_p))
    n = 20_000
    ids, _ = Sampler(fixed_distribution(logits), top_p=top_p, seed=2).run(n)
    assert sorted(np.unique(ids).tolist()) == want
    p = np.zeros(len(logits))
    p[want] = softmax(logits[want].astype(np.float64))
    assert 0.5 * np.abs(counts(ids, len(logits)) / n - p).sum() <= 0.02


def test_top_k_one_equals_greedy():
    model = make("lstm-coupled", np.float32)
    runs = []
    for options in ({"greedy": True}, {"top_k": 1, "temperature": 3.0, "seed": 9}):
        sampler = Sampler(model, **options)
        sampler.prime(PRIME)
        runs.append(sampler.run(40, num_samples=2)[0])
    assert np.array_equal(*runs)


@pytest.mark.parametrize(
    "top_p, nucleus",
    [(0.38, [1]), (0.62, [1, 3]), (0.75, [1, 3, 6]), (1.0, list(range(V)))],
)
def test_top_p_keeps_the_nucleus(top_p, nucleus):
    # probabilities in decreasing order: 0.4 (id 1), 0.25 (id 3), 0.15 (id 6), then 0.2 spread.
    p = np.array([0.06, 0.4, 0.05, 0.25, 0.05, 0.04, 0.15])
    n = 20_000
    ids, _ = Sampler(fixed_distribution(np.log(p)), top_p=top_p, seed=10).run(n)
    assert set(np.unique(ids)) == set(nucleus)
    want = np.zeros(V)
    want[nucleus] = p[nucleus] / p[nucleus].sum()
    assert 0.5 * np.abs(counts(ids) / n - want).sum() <= 0.015


def test_top_k_then_top_p_renormalises_within_the_top_k():
    p = np.array([0.06, 0.4, 0.05, 0.25, 0.05, 0.04, 0.15])
    # Within the top 2 (0.4, 0.25) the first holds 0.615: top-p 0.6 keeps it alone.
    ids, _ = Sampler(fixed_distribution(np.log(p)), top_k=2, top_p=0.6, seed=0).run(3000)
    assert set(np.unique(ids)) == {1}


def test_nan_logits_give_no_id_at_all():
    """No distribution, no draw: refused (issue 44; tests/lm/generate/test_sampler_non_finite.py)."""
    with pytest.raises(UnusableWeights):
        Sampler(fixed_distribution(np.full(V, np.nan)), seed=0).run(50)


# ------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "options, message",
    [
        ({"temperature": 0}, "--greedy"),
        ({"temperature": -1.0}, "--temperature"),
        ({"temperature": float("nan")}, "--temperature"),
        ({"temperature": float("inf")}, "--temperature"),
        ({"top_k": -1}, "--top-k"),
        ({"top_k": 2.5}, "--top-k"),
        ({"top_p": 0.0}, "--top-p"),
        ({"top_p": 1.5}, "--top-p"),
        ({"top_p": float("nan")}, "--top-p"),
        ({"seed": -3}, "--seed"),
        ({"start_token": V}, "vocabulary"),
    ],
)
def test_invalid_options_raise_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        Sampler(make(), **options)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.run(0), "--length"),
        (lambda s: s.generate(0), "--length"),
        (lambda s: s.generate(5, num_samples=0), "--num-samples"),
        (lambda s: s.prime([]), "at least one"),
        (lambda s: s.prime([1, V]), "vocabulary"),
        (lambda s: s.prime([[1, 2]]), "1-D"),
    ],
)
def test_invalid_calls_raise_config_error(call, message):
    with pytest.raises(ConfigError, match=message):
        call(Sampler(make(), seed=0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", list(CELLS))
def test_two_threads_splitting_the_units_sample_exactly_what_one_thread_does(cell, dtype, monkeypatch):
    """The units are split over two threads (H = 5: 2 and 3 units), each streaming its share of
    the weights; part 0 alone draws. Ids, recorded logits and the carried state must be those of
    the single-threaded loop, for every cell, primed, with several streams, across chunks."""
    import numba

    import charlm.lm.generate.sampler as sample_module

    from charlm.core.threads import available_cores

    if numba.config.NUMBA_NUM_THREADS < 2 or available_cores() < 2:
        pytest.skip("one core (or Numba started with one thread): the two-thread split cannot run")
    monkeypatch.setattr(sample_module, "MIN_UNITS_TO_SPLIT", 1)
    results = {}
    for threads in (1, 2):
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            sampler = Sampler(make(cell, dtype), temperature=0.9, seed=5)
            assert sampler._parts() == threads
            sampler.prime(PRIME)
            first, first_logits = sampler.run(6, num_samples=3, record_logits=True)
            second, _ = sampler.run(5, num_samples=3)
            results[threads] = (first, first_logits, second, sampler.state, sampler.next_tokens)
        finally:
            numba.set_num_threads(previous)
    one, two = results[1], results[2]
    np.testing.assert_array_equal(two[0], one[0])
    np.testing.assert_array_equal(two[2], one[2])
    np.testing.assert_array_equal(two[4], one[4])
    np.testing.assert_allclose(two[1], one[1], rtol=0, atol=TOL[dtype] / 100)
    for layer_two, layer_one in zip(two[3], one[3], strict=True):
        for got, want in zip(layer_two, layer_one, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] / 100)


@pytest.mark.parametrize("case", ["random", "ties", "sorted", "reversed", "all equal"])
def test_kth_smallest_equals_numpys_partition(case):
    from charlm.core.kernels.drawing import kth_smallest

    rng = np.random.default_rng(5)
    values = {
        "random": rng.normal(size=1000),
        "ties": rng.integers(0, 4, 1000).astype(np.float64),
        "sorted": np.arange(1000.0),
        "reversed": np.arange(1000.0)[::-1].copy(),
        "all equal": np.zeros(1000),
    }[case]
    for k in (0, 1, 63, 500, 998, 999):
        assert kth_smallest(values.copy(), k) == np.partition(values, k)[k], k
