"""What a language-model checkpoint's metadata must be, field by field.

A checkpoint is a file anyone can edit. Every field that ``info``, ``sample``, ``eval`` and
``train --resume`` read is checked here, for its type and its range, before any of them uses it;
a fault is a ConfigError or DataError that names the field as the file holds it
("model: hidden_size must be a positive integer, got -3"), never as a command-line option that
nobody gave. ``saved.py`` adds the file's name ("... has unusable metadata: ...").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.optimizer_names import OPTIMIZER_NAMES
from ...core.params import DTYPES
from ...errors import ConfigError
from ...settings import check_types, saved_settings
from ...text.vocab import LEVELS
from ..config import ModelConfig, TrainConfig
from ..train.progress import Progress


@dataclass
class SavedOptimizer:
    """``optimizer``: the update rule's scalars (its moments are arrays)."""

    name: str
    lr: float
    steps: int


@dataclass
class SavedCorpus:
    """``corpus``: how the run's text became tokens, so that a resume reads it the same way."""

    path: str | None = None
    paths: list[str] | None = None  # several paths given
    glob: str | None = None
    skip_bad: bool = False
    level: str = "char"
    val: str | None = None
    test: str | None = None
    val_frac: float | None = None
    min_freq: int = 1
    max_vocab: int | None = None
    encoding: str = "utf-8"
    bundled: bool = False
    fingerprint: object = None  # checked by _check_fingerprint


@dataclass
class SavedProvenance:
    """``init_from``: where a fine-tuned run's first weights came from."""

    checkpoint: str
    added_tokens: list[str]
    step: int | None = None
    corpus: str | None = None


# A training checkpoint holds all of these; `train --resume` needs every one.
TRAINING_KEYS = ("train", "progress", "optimizer")


def check_meta(meta: dict) -> ModelConfig:
    """Check every field of a language model's metadata; the model's settings, checked."""
    for key in ("model", "vocab"):
        if key not in meta:
            raise ConfigError(f"{key!r} is missing")
    config = _settings(ModelConfig, meta["model"], "model")
    dtype = meta.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r:.60}")
    if any(key in meta for key in TRAINING_KEYS):
        _check_training(meta)
    if "corpus" in meta:
        _check_corpus(meta["corpus"])
    if "init_from" in meta:
        check_types(SavedProvenance, meta["init_from"], "init_from")
    return config


def _settings(cls, data, where: str):
    """A configuration (ModelConfig, TrainConfig) from the settings a checkpoint holds, each field
    type-checked, then checked by the class, every error naming ``where`` and the field."""
    with saved_settings():  # errors name fields ("hidden_size"), not options ("--hidden-size")
        check_types(cls, data, where)
        try:
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _check_training(meta: dict) -> None:
    missing = [key for key in TRAINING_KEYS if key not in meta]
    if "rng" not in meta and "rank_rngs" not in meta:
        missing.append("rng")
    if missing:
        raise ConfigError(f"a training checkpoint needs {', '.join(missing)}")
    train = _settings(TrainConfig, meta["train"], "train")
    check_types(Progress, meta["progress"], "progress")
    for name, value in meta["progress"].items():
        least = 1 if name == "epoch" else 0
        if isinstance(value, int) and value < least:
            raise ConfigError(f"progress: {name} must be at least {least}, got {value}")
    check_types(SavedOptimizer, meta["optimizer"], "optimizer")
    optimizer = meta["optimizer"]
    if optimizer["name"] != train.optimizer or optimizer["name"] not in OPTIMIZER_NAMES:
        raise ConfigError(f"optimizer: name must be the run's optimizer {train.optimizer!r}, got {optimizer['name']!r:.60}")
    if not (optimizer["lr"] > 0 and math.isfinite(optimizer["lr"])) or optimizer["steps"] < 0:
        raise ConfigError(f"optimizer: lr must be a positive number and steps at least 0, got {optimizer['lr']} and "
                          f"{optimizer['steps']}")
    rngs = meta["rank_rngs"] if "rank_rngs" in meta else [meta["rng"]]
    if not isinstance(rngs, list) or not rngs:
        raise ConfigError("rank_rngs must be a list of random generator states")
    for rng in rngs:
        _check_rng(rng)
    if "rng" in meta and "rank_rngs" in meta:
        _check_rng(meta["rng"])
    validations = meta.get("validations", [])
    if not isinstance(validations, list) or not all(
            isinstance(v, dict) and _is_int(v.get("step")) and _is_number(v.get("val_loss"), none=True) for v in validations):
        raise ConfigError("validations must be a list of objects, each with an integer step and a number val_loss")


def _check_rng(state) -> None:
    """A state numpy's PCG64 generator takes (what np.random.default_rng writes)."""
    try:
        np.random.PCG64().state = state
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
        raise ConfigError("rng must be the state of numpy's PCG64 generator (an object with bit_generator "
                          "\"PCG64\", state {state, inc}, has_uint32 and uinteger)") from None


def _check_corpus(corpus) -> None:
    check_types(SavedCorpus, corpus, "corpus")
    if corpus.get("level", "char") not in LEVELS:
        raise ConfigError(f"corpus: level must be one of {', '.join(LEVELS)}, got {corpus['level']!r:.60}")
    if not _is_number(corpus.get("val_frac"), none=True) or not 0 <= (corpus.get("val_frac") or 0) < 1:
        raise ConfigError(f"corpus: val_frac must be null or a number in [0, 1), got {corpus.get('val_frac')!r}")
    if corpus.get("min_freq", 1) < 1 or (corpus.get("max_vocab") or 1) < 1:
        raise ConfigError("corpus: min_freq and max_vocab must be positive integers")
    _check_fingerprint(corpus.get("fingerprint"))


def _check_fingerprint(found) -> None:
    """``corpus.fingerprint``: {"train": split, "val": split, "files": [[name, bytes, sha256], ...]},
    a split being null or {"tokens": count, "sha256": hex digest} (lm/data/corpus.py's fingerprint)."""
    if found is None:
        return
    wrong = not isinstance(found, dict) or set(found) - {"train", "val", "files"}
    for split in ("train", "val"):
        one = found.get(split) if isinstance(found, dict) else None
        if one is not None and not (isinstance(one, dict) and set(one) == {"tokens", "sha256"}
                                    and _is_int(one["tokens"]) and one["tokens"] >= 0 and isinstance(one["sha256"], str)):
            wrong = True
    files = found.get("files") if isinstance(found, dict) else None
    if files is not None and not (isinstance(files, list) and all(
            isinstance(f, list) and len(f) == 3 and isinstance(f[0], str) and _is_int(f[1]) and isinstance(f[2], str)
            for f in files)):
        wrong = True
    if wrong:
        raise ConfigError("corpus: fingerprint must be an object of train and val ({tokens, sha256} or null) and "
                          "files ([name, bytes, sha256] each)")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value, none: bool = False) -> bool:
    return (none and value is None) or (isinstance(value, (int, float)) and not isinstance(value, bool))
