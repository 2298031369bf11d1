"""A language-model checkpoint that lies is refused by name: every metadata field is type- and
range-checked, naming the field as the file holds it; every array (parameters, the optimizer's
moments, the carried state) is checked by name, dtype, shape and value. Each forged file is a
valid checkpoint from a real training run with one field or array rewritten."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from charlm.errors import CheckpointError
from charlm.store.checkpoint import load_checkpoint
from charlm.lm.config import ModelConfig, TrainConfig
from charlm.lm.models.saved import load_model
from charlm.lm.models.saved_meta import SavedCorpus, SavedOptimizer
from charlm.lm.train.progress import Progress
from tests.helpers.forged import forge

WRONG = {"not": "this"}  # an object: the wrong type for every field described


@pytest.fixture(scope="module")
def last(trained_run):
    """The training checkpoint of the shared run (an adam LSTM with its carried state)."""
    return trained_run[2] / "last.npz"


def refused(path, *fragments) -> str:
    """Loading fails with one CheckpointError line naming the file and every fragment, never with
    Python's own words for a type or a key."""
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    for leak in ("not supported between", "object is not", "unexpected keyword", "positional argument", "--"):
        assert leak not in message, message
    return message


def setting(*keys, value=None, delete=False):
    """A function that sets (or deletes) meta[keys[0]][keys[1]]... in place."""
    def change(meta):
        for key in keys[:-1]:
            meta = meta[key]
        if delete:
            del meta[keys[-1]]
        else:
            meta[keys[-1]] = value
    return change


def test_the_unforged_checkpoint_loads(last, tmp_path):
    snap = load_model(forge(last, tmp_path / "same.npz"))
    assert snap.carried_state() is not None and "optim/m" in snap.arrays


# ---------------------------------------------------------------------------------------- types
DESCRIBED = [("model", ModelConfig), ("train", TrainConfig), ("progress", Progress), ("optimizer", SavedOptimizer),
             ("corpus", SavedCorpus)]


@pytest.mark.parametrize("key, name", [(key, f.name) for key, cls in DESCRIBED for f in fields(cls)], ids=str)
def test_every_field_of_the_wrong_type_is_named_with_what_it_should_be(last, tmp_path, key, name):
    forged = forge(last, tmp_path / "c.npz", meta=setting(key, name, value=WRONG))
    message = refused(forged, "has unusable metadata", f"{key}: {name}")
    assert "must be" in message


@pytest.mark.parametrize("key, name, value, expected", [
    ("model", "hidden_size", "32", "model: hidden_size must be an integer, not a string '32'"),
    ("model", "hidden_size", 32.0, "model: hidden_size must be an integer, not a number 32.0"),
    ("model", "layers", True, "model: layers must be an integer, not true/false True"),
    ("model", "linear_units", "8", "model: linear_units must be an integer or null, not a string '8'"),
    ("model", "tie_weights", 1, "model: tie_weights must be true or false, not an integer 1"),
    ("model", "cutoffs", [2, "x"], "model: cutoffs must be a list of integers or null"),
    ("model", "dropout", None, "model: dropout must be a number, not null"),
    ("model", "cell", 3, "model: cell must be a string, not an integer 3"),
    ("train", "lr", "fast", "train: lr must be a number or null, not a string 'fast'"),
    ("train", "seed", [1], "train: seed must be an integer, not a list [1]"),
    ("progress", "step", "30", "progress: step must be an integer, not a string '30'"),
    ("optimizer", "steps", 1.5, "optimizer: steps must be an integer, not a number 1.5"),
    ("corpus", "encoding", 8, "corpus: encoding must be a string, not an integer 8"),
    ("corpus", "paths", "a.txt", "corpus: paths must be a list of strings or null"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_wrong_types(last, tmp_path, key, name, value, expected):
    refused(forge(last, tmp_path / "c.npz", meta=setting(key, name, value=value)), expected)


@pytest.mark.parametrize("change, expected", [
    (setting("model", value=[1, 2]), "model must be an object, not a list"),
    (setting("model", value=None), "model must be an object, not null"),
    (setting("model", delete=True), "'model' is missing"),
    (setting("vocab", delete=True), "'vocab' is missing"),
    (setting("model", "vocab_size", delete=True), "model lacks vocab_size"),
    (setting("model", "colour", value="red"), "model has unknown settings: colour"),
    (setting("vocab", value="abc"), "vocabulary: expected an object"),
    (setting("vocab", "tokens", value="abc"), "vocabulary: 'tokens' must be a list"),
    (setting("vocab", "tokens", 3, value=7), "vocabulary: token 3 is a int, not a string"),
    (setting("dtype", value=32), "dtype must be one of float32, float64, not 32"),
    (setting("dtype", value="float16"), "dtype must be one of float32, float64, not 'float16'"),
    (setting("optimizer", "name", value="sgd"), "optimizer: name must be the run's optimizer 'adam', got 'sgd'"),
    (setting("optimizer", delete=True), "a training checkpoint needs optimizer"),
    (setting("rng", delete=True), "a training checkpoint needs rng"),
    (setting("rng", value="seed 1"), "rng must be the state of numpy's PCG64 generator"),
    (setting("rng", "state", "inc", value="x"), "rng must be the state of numpy's PCG64 generator"),
    (setting("validations", value={"step": 1}), "validations must be a list of objects"),
    (setting("validations", value=[{"step": "1", "val_loss": 2.0}]), "validations must be a list of objects"),
    (setting("corpus", "fingerprint", "train", "tokens", value="many"), "corpus: fingerprint must be"),
    (setting("corpus", "fingerprint", value=[]), "corpus: fingerprint must be"),
    (setting("corpus", "level", value="byte"), "corpus: level must be one of char, word"),
    (setting("init_from", value={"checkpoint": 5, "added_tokens": []}), "init_from: checkpoint must be a string"),
], ids=repr)
def test_malformed_fields(last, tmp_path, change, expected):
    refused(forge(last, tmp_path / "c.npz", meta=change), expected)


@pytest.mark.parametrize("key, name, value, expected", [
    # hidden_size first: linear_units and embed_size are derived from it, and must not take the blame
    ("model", "hidden_size", -3, "model: hidden_size must be a positive integer, got -3"),
    ("model", "hidden_size", 0, "model: hidden_size must be a positive integer, got 0"),
    ("model", "layers", -1, "model: layers must be a positive integer, got -1"),
    ("model", "embed_size", -32, "model: embed_size must be a positive integer, got -32"),
    ("model", "vocab_size", -58, "model: vocab_size must be a positive integer, got -58"),
    ("model", "memory", 0, "model: memory must be a positive integer, got 0"),
    ("model", "linear_units", -1, "model: linear_units must be an integer from 0 to the hidden size 32, got -1"),
    ("model", "dropout", 1.5, "model: dropout must be in [0, 1), got 1.5"),
    ("model", "init_scale", -0.1, "model: init_scale must be a positive number"),
    ("model", "cutoffs", [5], "model: cutoffs is for softmax adaptive"),
    ("train", "batch_size", -8, "train: batch_size must be a positive integer, got -8"),
    ("train", "seq_len", 0, "train: seq_len must be a positive integer, got 0"),
    ("train", "lr", -0.01, "train: lr must be a positive number, got -0.01"),
    ("train", "clip_norm", -5.0, "train: clip_norm must be a positive number, got -5.0"),
    ("train", "optimizer", "lbfgs", "train: optimizer must be adam, sgd or rmsprop, got 'lbfgs'"),
    ("progress", "step", -1, "progress: step must be at least 0, got -1"),
    ("progress", "epoch", 0, "progress: epoch must be at least 1, got 0"),
    ("progress", "position", -96, "progress: position must be at least 0, got -96"),
    ("optimizer", "steps", -1, "optimizer: lr must be a positive number and steps at least 0"),
    ("optimizer", "lr", 0.0, "optimizer: lr must be a positive number and steps at least 0"),
    ("corpus", "min_freq", 0, "corpus: min_freq and max_vocab must be positive integers"),
    ("corpus", "val_frac", 2.0, "corpus: val_frac must be null or a number in [0, 1)"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_values_out_of_range_are_named_as_the_checkpoint_holds_them(last, tmp_path, key, name, value, expected):
    refused(forge(last, tmp_path / "c.npz", meta=setting(key, name, value=value)), expected)


def test_settings_that_contradict_the_weights(last, tmp_path):
    """Metadata of the right types that describes another network than the arrays hold."""
    refused(forge(last, tmp_path / "a.npz", meta=setting("model", "tie_weights", value=True)),
            "is inconsistent: it holds param/decoder.weight, which the model it describes")
    refused(forge(last, tmp_path / "b.npz", meta=setting("model", "hidden_size", value=16)),
            "parameter rnn.weight_ih_l0 is float32 of shape (128, 32); the model needs floats of shape (64, 32)")
    refused(forge(last, tmp_path / "c.npz", meta=setting("train", "batch_size", value=4)),
            "the carried state state/0/0 is float32 of shape (8, 32); the model needs floats of shape (4, 32)")


# --------------------------------------------------------------------------------------- arrays
def replace(name, make):
    return lambda arrays: arrays.__setitem__(name, make(arrays[name]))


def remove(name):
    return lambda arrays: arrays.pop(name)


def replace_by_vocab(name, make):
    """As replace, with ``make`` also given the vocabulary's size."""
    def change(arrays, vocab_size):
        arrays[name] = make(arrays[name], vocab_size)
    change.by_vocab = True
    return change


def sizes_in(expected: str, checkpoint) -> str:
    """``expected`` with the sizes of the shared run filled in ({V}: its vocabulary, {V1}: V - 1,
    {half}: half its optimizer's moment), so the cases follow the test corpus rather than a number."""
    arrays, _ = load_checkpoint(checkpoint)
    V = arrays["param/decoder.bias"].shape[0] if "param/decoder.bias" in arrays else len(load_model(checkpoint).vocab)
    half = arrays["optim/v"].size // 2 if "optim/v" in arrays else 0
    return expected.format(V=V, V1=V - 1, half=half)


@pytest.mark.parametrize("change, expected", [
    (replace("param/decoder.bias", lambda a: a.astype(np.int64)),
     "parameter decoder.bias is int64 of shape ({V},); the model needs floats of shape ({V},)"),
    (replace("param/decoder.bias", lambda a: a.astype(np.int32)), "parameter decoder.bias is int32"),
    (replace("param/decoder.bias", lambda a: a.astype(np.complex64)), "parameter decoder.bias is complex64"),
    (replace("param/decoder.bias", lambda a: a > 0), "parameter decoder.bias is bool"),
    (replace("param/decoder.bias", lambda a: a.astype("U3")), "parameter decoder.bias is <U3"),
    (replace("param/decoder.bias", lambda a: a[:-1]), "parameter decoder.bias is float32 of shape ({V1},)"),
    (replace("param/encoder.weight", lambda a: a.T.copy()), "parameter encoder.weight is float32 of shape (32, {V})"),
    (remove("param/decoder.bias"), "is incomplete: parameter decoder.bias is missing"),
    (replace("optim/m", lambda a: a[:100]), "the optimizer's moment optim/m is float32 of shape (100,)"),
    (replace("optim/v", lambda a: a.reshape(2, -1)), "the optimizer's moment optim/v is float32 of shape (2, {half})"),
    (replace("optim/m", lambda a: a.astype(np.int64)), "the optimizer's moment optim/m is int64"),
    (replace("optim/v", lambda a: a.astype(np.complex128)), "the optimizer's moment optim/v is complex128"),
    (replace("optim/m", lambda a: np.full_like(a, np.nan)), "holds non-finite values in optim/m"),
    (remove("optim/v"), "is incomplete: the optimizer's moment optim/v is missing"),
    (replace("state/0/0", lambda a: a[:4]), "the carried state state/0/0 is float32 of shape (4, 32)"),
    (replace("state/0/1", lambda a: a[:, :16]), "the carried state state/0/1 is float32 of shape (8, 16)"),
    (replace("state/0/0", lambda a: a[None]), "the carried state state/0/0 is float32 of shape (1, 8, 32)"),
    (replace("state/0/1", lambda a: a.astype(np.int16)), "the carried state state/0/1 is int16"),
    (replace("state/0/0", lambda a: a.astype(np.complex64)), "the carried state state/0/0 is complex64"),
    (replace("state/0/0", lambda a: a * np.inf), "holds non-finite values in state/0/0"),
    (remove("state/0/1"), "is incomplete: the carried state state/0/1 is missing"),
    (lambda arrays: arrays.__setitem__("state/1/0", np.zeros((8, 32), np.float32)), "it holds state/1/0"),
    (lambda arrays: arrays.__setitem__("param/rnn.weight_ih_l1", np.zeros((128, 32), np.float32)),
     "it holds param/rnn.weight_ih_l1"),
    (lambda arrays: arrays.__setitem__("optim/sq", np.zeros(3, np.float32)), "it holds optim/sq"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_every_array_is_checked_by_name_dtype_shape_and_value(last, tmp_path, change, expected):
    refused(forge(last, tmp_path / "c.npz", arrays=change), sizes_in(expected, last))


@pytest.fixture(scope="module")
def memory_last(trained_run, tmp_path_factory):
    """A memory network's training checkpoint: its carried state is token ids, -1 for an empty slot."""
    from tests.helpers.cli import run_cli

    run = tmp_path_factory.mktemp("memn2n") / "run"
    result = run_cli(None, "train", trained_run[1], "--out", run, "--model", "memn2n", "--memory", 12, "--hops", 2,
                     "--hidden-size", 24, "--batch-size", 8, "--max-steps", 2, "--quiet")
    assert result.code == 0, result.err
    return run / "last.npz"


@pytest.mark.parametrize("change, expected", [
    (replace_by_vocab("state/0/0", lambda a, V: np.full_like(a, V)), "the carried state state/0/0 holds values outside -1..{V1}"),
    (replace("state/0/0", lambda a: np.full_like(a, -2)), "the carried state state/0/0 holds values outside -1..{V1}"),
    (replace("state/0/0", lambda a: a.astype(np.float64)),
     "the carried state state/0/0 is float64 of shape (8, 12); the model needs integers of shape (8, 12)"),
    (replace("state/0/0", lambda a: a[:, :6]), "the carried state state/0/0 is int64 of shape (8, 6)"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_memory_of_token_ids_is_checked_against_the_vocabulary(memory_last, tmp_path, change, expected):
    load_model(memory_last)  # the unforged one loads
    vocab_size = len(load_model(memory_last).vocab)
    change_for_this_vocab = (lambda arrays: change(arrays, vocab_size)) if getattr(change, "by_vocab", False) else change
    refused(forge(memory_last, tmp_path / "c.npz", arrays=change_for_this_vocab), sizes_in(expected, memory_last))
