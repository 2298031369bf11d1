"""What a classifier checkpoint holds (a sequence classifier's or a tree model's), and how a
classifier comes back out of one: its family (``families.py``, by the ``model`` metadata's name)
reads the configuration and builds the model.

The container (atomic .npz, JSON metadata, no pickles, damage detection) is ``charlm/store/checkpoint.py``.
Contents:

- arrays ``param/<name>`` for every parameter (PyTorch names and layouts);
- metadata ``kind`` = "charlm-classifier", ``model`` (ClassifierConfig or TreeModelConfig), ``dtype``, ``vocab``
  ({"level", "tokens"}, ``<unk>`` first), ``labels`` (class names by id), and from training
  ``train`` (FitConfig), ``data`` (where the splits came from), ``epoch``, ``best_dev_acc``,
  ``best_epoch`` and ``history`` (one record per epoch).

A language-model checkpoint is refused here with a pointer to ``charlm sample``/``eval``, and
``charlm.lm.models.saved`` refuses a classifier the same way (its ``kind`` check).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.params import StoreBacked
from ..errors import CharlmError, CheckpointError
from ..settings import saved_settings
from ..store.checkpoint import CLASSIFIER_KIND, LANGUAGE_MODEL_KIND, fill_parameters, load_checkpoint, save_checkpoint
from ..store.runfolder import resolve_checkpoint
from ..text.vocab import Vocab
from .families import family_of

KIND = CLASSIFIER_KIND


@dataclass
class ClassifierSnapshot:
    model: StoreBacked  # a classify.models.Classifier or a trees.models.TreeModel
    vocab: Vocab
    labels: list[str]
    meta: dict


def save_classifier(path: Path, model: StoreBacked, vocab: Vocab, labels: list[str], extra_meta: dict | None = None) -> None:
    arrays = {f"param/{name}": array for name, array in model.params.items()}
    meta = {"kind": KIND, "model": model.config.to_dict(), "dtype": model.dtype.name,
            "vocab": vocab.to_dict(), "labels": list(labels)}
    meta.update(extra_meta or {})
    save_checkpoint(path, arrays, meta)


def load_classifier(path: Path) -> ClassifierSnapshot:
    """Load and validate a classifier checkpoint; every problem is a CheckpointError."""
    arrays, meta = load_checkpoint(path)
    kind = meta.get("kind")
    if kind == LANGUAGE_MODEL_KIND:
        raise CheckpointError(f"{path} is a language model, not a classifier: use charlm sample or charlm eval with it")
    if kind != KIND:
        raise CheckpointError(f"{path} is a charlm checkpoint of another kind ({kind!r}), not a classifier")
    missing = [key for key in ("model", "vocab", "labels") if key not in meta]
    if missing:
        raise CheckpointError(f"{path} has unusable metadata: {', '.join(map(repr, missing))} is missing")
    dtype = meta.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise CheckpointError(f"{path} has unusable metadata: dtype must be float32 or float64, got {dtype!r}")
    try:
        with saved_settings():  # errors name the fields as the file holds them
            family = family_of(meta["model"].get("model") if isinstance(meta["model"], dict) else None)
            config = family.config_class.from_dict(meta["model"])
            vocab = Vocab.from_dict(meta["vocab"])
    except (KeyError, TypeError, ValueError, CharlmError) as exc:
        raise CheckpointError(f"{path} has unusable metadata: {exc}") from None
    labels, dtype = meta["labels"], np.dtype(dtype)
    if not isinstance(labels, list) or len(labels) != config.num_classes or not all(isinstance(x, str) for x in labels):
        raise CheckpointError(f"{path} is inconsistent: its labels do not name the model's {config.num_classes} classes")
    if vocab.unk_id != 0:
        raise CheckpointError(f"{path} has unusable metadata: a classifier's vocabulary starts with <unk>")
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"{path} is inconsistent: vocabulary of {len(vocab)} tokens, model of {config.vocab_size}")
    model = family.build(config, dtype)
    fill_parameters(path, model, arrays)
    return ClassifierSnapshot(model, vocab, list(labels), meta)


def load(model: Path) -> tuple[Path, ClassifierSnapshot]:
    """The classifier of a run folder (its best.npz) or checkpoint file, and its path."""
    path = resolve_checkpoint(model)
    return path, load_classifier(path)
