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

from ...store.checkpoint import LANGUAGE_MODEL_KIND, fill_parameters, load_checkpoint, save_checkpoint
from ..config import ModelConfig
from ...errors import CheckpointError, CharlmError
from .protocol import LanguageModel
from .kinds import build_language_model
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
        config = ModelConfig.from_dict(meta["model"])
        vocab = Vocab.from_dict(meta["vocab"])
        dtype = np.dtype(meta.get("dtype", "float32"))
    except (KeyError, TypeError, ValueError, CharlmError) as exc:
        raise CheckpointError(f"{path} has unusable metadata: {exc}") from None
    if dtype not in (np.float32, np.float64):
        raise CheckpointError(f"{path} has unusable metadata: dtype {dtype}")
    if vocab.level == "word" and vocab.eos_id is None:
        raise CheckpointError(f"{path} has unusable metadata: vocabulary: a word vocabulary needs <eos>")
    if vocab.level == "char" and vocab.unk_id is not None:
        raise CheckpointError(f"{path} has unusable metadata: a character language model has no <unk>")
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"{path} is inconsistent: vocabulary of {len(vocab)} tokens, model of {config.vocab_size}")
    model = build_language_model(config, dtype)
    fill_parameters(path, model, arrays)
    return Snapshot(model, vocab, meta, arrays)
