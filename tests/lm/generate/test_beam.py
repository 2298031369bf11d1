"""`charlm sample --beam K`: a beam of one is greedy decoding, a wider beam finds the sequence a
hand-set model makes more likely than greedy's, the printed log-probabilities are the model's own
(scored by evaluation), --stop ends a hypothesis, word models work, and options that cannot take
effect are refused."""

from __future__ import annotations

import re

import numpy as np
import pytest

from charlm.lm.config import ModelConfig
from charlm.lm.measure.evaluate import evaluate
from charlm.lm.models.recurrent import RecurrentLanguageModel
from charlm.lm.models.saved import load_model, save_model
from charlm.text.vocab import Vocab
from tests.helpers.cli import run_cli

LOG_PROB = re.compile(r"beam (\d+)/(\d+): log-prob (-?[\d.]+) nats over (\d+) tokens")


def bigram_model(vocab: Vocab, next_probs: dict[str, dict[str, float]]) -> RecurrentLanguageModel:
    """A plain RNN whose output depends on the current token only: h = tanh(10 onehot) ~ onehot,
    so the decoder's column j holds the log-probabilities after token j (uniform where not given)."""
    V = len(vocab)
    model = RecurrentLanguageModel(ModelConfig(vocab_size=V, cell="rnn-tanh", hidden_size=V, layers=1), np.float64)
    for array in model.params.values():
        array[...] = 0
    model.params["encoder.weight"][...] = np.eye(V)
    model.params["rnn.weight_ih_l0"][...] = 10 * np.eye(V)
    for token, probs in next_probs.items():
        column = np.full(V, 1e-6)
        for nxt, p in probs.items():
            column[vocab.id_of(nxt)] = p
        model.params["decoder.weight"][:, vocab.id_of(token)] = np.log(column / column.sum())
    model.refresh()
    return model


@pytest.fixture(scope="module")
def trap(tmp_path_factory):
    """After the prime "s": 'a' (0.6) is likelier than 'b' (0.4), but anything after 'a' is
    uncertain (0.3 at most) while 'b' is followed by 'x' (0.95): greedy says "ax" (0.18), the best
    two characters are "bx" (0.38)."""
    vocab = Vocab.build_char("sabxy")
    model = bigram_model(vocab, {"s": {"a": 0.6, "b": 0.4},
                                 "a": {"a": 0.25, "b": 0.25, "x": 0.3, "y": 0.2},
                                 "b": {"x": 0.95, "y": 0.05}})
    path = tmp_path_factory.mktemp("beam") / "trap.npz"
    save_model(path, model, vocab)
    return path


def sample(capsys, *args):
    result = run_cli(capsys, "sample", *args)
    assert result.code == 0, result.err
    return result


def test_a_beam_of_one_is_greedy_decoding(trained_run, capsys):
    _, _, run, _ = trained_run
    greedy = sample(capsys, run, "--greedy", "--prime", "The ", "--length", 120)
    beam = sample(capsys, run, "--beam", 1, "--prime", "The ", "--length", 120)
    assert beam.out == greedy.out


def test_a_wider_beam_finds_what_greedy_misses(trap, capsys):
    assert sample(capsys, trap, "--greedy", "--prime", "s", "--length", 2).out == "sax\n"
    beam = sample(capsys, trap, "--beam", 3, "--prime", "s", "--length", 2)
    assert beam.out == "sbx\n"
    (_, _, log_prob, tokens), = LOG_PROB.findall(beam.err)
    assert float(log_prob) == pytest.approx(np.log(0.4 * 0.95), abs=1e-3) and tokens == "2"


def test_the_printed_log_probs_are_the_models_and_best_first(trained_run, capsys):
    _, _, run, _ = trained_run
    result = sample(capsys, run, "--beam", 4, "--num-samples", 3, "--prime", "The ", "--length", 30)
    texts = re.split(r"(?:\n\n)?==> sample \d <==\n", result.out)[1:]
    found = LOG_PROB.findall(result.err)
    assert len(texts) == len(found) == 3
    snap = load_model(run / "best.npz")
    prime = snap.vocab.encode("The ")
    prime_loss = evaluate(snap.model, prime, batch_size=1).loss_sum
    printed = [float(f[2]) for f in found]
    assert printed == sorted(printed, reverse=True)
    for text, log_prob in zip(texts, printed):
        ids = snap.vocab.encode(text[:len("The ") + 30])  # the prime and the 30 characters generated
        scored = evaluate(snap.model, ids, batch_size=1).loss_sum - prime_loss
        assert -scored == pytest.approx(log_prob, abs=1e-3)


def test_stop_ends_a_hypothesis_and_word_models_work(tmp_path, capsys):
    vocab = Vocab.build_word("the cat sat on mat\n")
    model = bigram_model(vocab, {"the": {"cat": 0.7, "mat": 0.3}, "cat": {"sat": 0.9, "on": 0.1},
                                 "sat": {"on": 0.9, "the": 0.1}, "on": {"the": 1.0}, "mat": {"<eos>": 1.0}})
    save_model(tmp_path / "words.npz", model, vocab)
    result = sample(capsys, tmp_path / "words.npz", "--beam", 3, "--num-samples", 2, "--prime", "the",
                    "--length", 20, "--stop", "mat")
    # "the mat" (0.3) beats "the cat sat on the mat" (0.7 * 0.9 * 0.9 * 0.3 = 0.17): both end at the stop word.
    assert result.out == "==> sample 1 <==\nthe mat\n\n==> sample 2 <==\nthe cat sat on the mat\n"
    assert result.err.count("(reached --stop)") == 2
    found = [float(f[2]) for f in LOG_PROB.findall(result.err)]
    assert found == pytest.approx([np.log(0.3), np.log(0.7 * 0.9 * 0.9 * 0.3)], abs=1e-3)


@pytest.mark.parametrize("args, named", [
    (["--beam", 2, "--temperature", 0.5], "--temperature cannot take effect with --beam"),
    (["--beam", 2, "--seed", 1, "--top-k", 3], "--top-k, --seed cannot take effect with --beam"),
    (["--beam", 2, "--num-samples", 3], "--num-samples 3 is more than the --beam 2"),
    (["--length-penalty", 1.0], "--length-penalty takes effect only with --beam"),
    (["--beam", 2, "--length-penalty", -1], "--length-penalty must be 0 or more"),
    (["--beam", -1], "--beam must be a positive integer"),
])
def test_options_that_cannot_take_effect_are_refused(trap, capsys, args, named):
    result = run_cli(capsys, "sample", trap, *args)
    assert result.code != 0 and named in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("cell", ["lstm", "lstm-peephole", "lstm-coupled", "gru", "rnn-tanh", "rnn-relu"])
def test_a_beam_of_one_is_greedy_for_every_cell(cell):
    """The beam kernel's own network step against the sampling loop's, through the library."""
    from charlm.lm.generate.beam import beam_search
    from charlm.lm.generate.sampler import Sampler

    vocab = Vocab.build_char("abcdefgh \n")
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), cell=cell, hidden_size=16, layers=2), np.float32, seed=4)
    rng = np.random.default_rng(5)
    for array in model.params.values():
        array[...] = rng.uniform(-0.8, 0.8, array.shape)
    model.refresh()
    prime = vocab.encode("abc ")
    (best,) = beam_search(model, beam=1, length=60, prime_ids=prime)
    sampler = Sampler(model, greedy=True)
    sampler.prime(prime)
    greedy = np.concatenate(list(sampler.generate(60)), axis=1)[0]
    np.testing.assert_array_equal(best.ids, greedy)


def test_a_stop_the_model_cannot_write_is_named(trap, capsys):
    result = run_cli(capsys, "sample", trap, "--beam", 2, "--stop", "\u2603")
    assert result.code != 0 and "--stop" in result.err and "\u2603" in result.err and "Traceback" not in result.err
