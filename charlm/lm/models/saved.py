"""What a language-model checkpoint holds, and how a model comes back out of one.

The container (atomic .npz, JSON metadata, no pickles, damage detection) is ``checkpoint.py``;
this module decides the contents:

- arrays ``param/<name>`` for every parameter (PyTorch names and layouts), ``optim/<name>`` for the
  optimizer's moments (flat, in the parameter store's order), ``state/<layer>/<part>`` for the
  hidden state carried into the next window (h, and c for the LSTMs);
- metadata ``kind``, ``model`` (ModelConfig), ``dtype``, ``vocab``, and when training: ``train``
  (TrainConfig), ``progress`` (step, epoch, data cursor, learning rate, best validation loss...),
  ``optimizer``, ``rng`` (the dropout generator's state) and ``validations`` (the history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.optim import make_optimizer
from ...store.checkpoint import LANGUAGE_MODEL_KIND, check_array, fill_parameters, load_checkpoint, save_checkpoint
from ...errors import CheckpointError, CharlmError
from .protocol import LanguageModel
from .kinds import build_language_model
from .saved_meta import check_meta
from ...text.vocab import Vocab

KIND = LANGUAGE_MODEL_KIND


@dataclass
class Snapshot:
    model: LanguageModel  # of any kind
    vocab: Vocab
    meta: dict
    arrays: dict = field(repr=False)

    def carried_state(self) -> list[tuple] | None:
        """The hidden state saved with a training checkpoint, or None."""
        layers = []
        for layer, blank in enumerate(self.model.initial_state(1)):  # the state's layout: layers, parts, dtypes
            parts = []
            for part, like in enumerate(blank):
                array = self.arrays.get(f"state/{layer}/{part}")
                if array is None:
                    return None
                parts.append(array.astype(like.dtype))
            layers.append(tuple(parts))
        return layers


def save_model(path: Path, model: LanguageModel, vocab: Vocab, *, extra_meta: dict | None = None,
               optimizer=None, state: list[tuple] | None = None) -> None:
    arrays = {f"param/{name}": array for name, array in model.params.items()}
    meta = {"kind": KIND, "model": model.config.to_dict(), "dtype": model.dtype.name, "vocab": vocab.to_dict()}
    if optimizer is not None:
        arrays.update({f"optim/{name}": array for name, array in optimizer.state_arrays().items()})
        meta["optimizer"] = optimizer.state_meta()
    if state is not None:
        for layer, parts in enumerate(state):
            for index, part in enumerate(parts):
                arrays[f"state/{layer}/{index}"] = part
    meta.update(extra_meta or {})
    save_checkpoint(path, arrays, meta)


def load_model(path: Path) -> Snapshot:
    """Load and validate a language-model checkpoint; every problem is a CheckpointError."""
    arrays, meta = load_checkpoint(path)
    kind = meta.get("kind")
    if kind != KIND:
        raise CheckpointError(f"{path} is a charlm checkpoint of another kind ({kind!r}), not a language model")
    try:
        config = check_meta(meta)
        vocab = Vocab.from_dict(meta["vocab"])
    except CharlmError as exc:
        raise CheckpointError(f"{path} has unusable metadata: {exc}") from None
    dtype = np.dtype(meta.get("dtype", "float32"))
    if vocab.level == "word" and vocab.eos_id is None:
        raise CheckpointError(f"{path} has unusable metadata: vocabulary: a word vocabulary needs <eos>")
    if vocab.level == "char" and vocab.unk_id is not None:
        raise CheckpointError(f"{path} has unusable metadata: a character language model has no <unk>")
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"{path} is inconsistent: vocabulary of {len(vocab)} tokens, model of {config.vocab_size}")
    model = build_language_model(config, dtype)
    fill_parameters(path, model, arrays)
    _check_arrays(path, model, meta, arrays)
    return Snapshot(model, vocab, meta, arrays)


def _check_arrays(path: Path, model: LanguageModel, meta: dict, arrays: dict) -> None:
    """Every array but the parameters (``fill_parameters`` checks those) against what the model
    and its training need: the optimizer's moments and the carried state, by name, dtype, shape
    and value, so that a resume never meets an array it cannot use; and nothing else."""
    expected = {f"param/{name}" for name in model.params}
    _refuse_unused(path, model, [name for name in arrays if name.startswith("param/")], expected)
    if "optimizer" in meta:  # saved_meta checked it names the run's optimizer
        optimizer = make_optimizer(meta["optimizer"]["name"], model.store, lr=1.0)
        for name, like in optimizer.state_arrays().items():
            check_array(path, f"optim/{name}", arrays.get(f"optim/{name}"), like, "the optimizer's moment")
            expected.add(f"optim/{name}")
    saved_state = [name for name in arrays if name.startswith("state/")]
    if saved_state and "train" in meta:  # the state of the run's batch_size streams, all of it or none
        for layer, parts in enumerate(model.initial_state(meta["train"]["batch_size"])):
            for part, like in enumerate(parts):
                # A float state is hidden units; an integer one is token ids, -1 for an empty slot.
                bounds = None if like.dtype.kind == "f" else (-1, model.config.vocab_size - 1)
                name = f"state/{layer}/{part}"
                check_array(path, name, arrays.get(name), like, "the carried state", bounds)
                expected.add(name)
    _refuse_unused(path, model, arrays, expected)


def _refuse_unused(path: Path, model: LanguageModel, names, expected: set) -> None:
    """An array the model has no place for means the metadata does not describe these weights."""
    unused = sorted(set(names) - expected)
    if unused:
        raise CheckpointError(f"{path} is inconsistent: it holds {', '.join(unused[:3])}{' ...' if len(unused) > 3 else ''}, "
                              f"which the model it describes ({model.config.describe()}) does not have")
