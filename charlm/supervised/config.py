"""How a classifier of either family is trained, and how its labelled data becomes a training set:
the configuration the sequence classifiers (``classify/``) and the tree models (``trees/``) share."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.optimizer_names import OPTIMIZER_NAMES
from ..core.params import DTYPES
from ..errors import ConfigError
from ..settings import Settings, check_seed, option_name, seed_setting, setting
from ..text.vocab import LEVELS


@dataclass
class FitConfig(Settings):
    optimizer: str = setting("adam", "Optimizer.", choices=OPTIMIZER_NAMES)
    lr: float = setting(1e-3, "Learning rate.")
    clip_norm: float | None = setting(5.0, "Clip the gradient's global L2 norm to this; 0 turns it off.", zero="off")
    batch_size: int = setting(50, "Sentences per minibatch (bucketed by length).")
    epochs: int = setting(10, "Passes over the training set at most.")
    # None: never stop early
    patience: int | None = setting(3, "Stop after this many epochs without a better dev accuracy; 0: never.", zero="never")
    seed: int = seed_setting(0, "initialisation, batches, dropout, dev hold-out, folds")

    def __post_init__(self):
        self._zero_means_none()

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZER_NAMES)}")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{option_name(name)} must be a positive integer, got {value!r}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"--patience must be a positive integer, got {self.patience}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a positive number, got {self.lr}")
        if self.clip_norm is not None and not (self.clip_norm > 0 and math.isfinite(self.clip_norm)):
            raise ConfigError(f"--clip-norm must be a positive number (0 turns clipping off), got {self.clip_norm}")
        check_seed(self.seed)


@dataclass
class ClassifyDataConfig:
    """How labelled texts become a training set (saved with the run in its ``train`` metadata)."""

    level: str = setting("word", "Tokens: whitespace-separated words or characters.", choices=LEVELS)
    min_freq: int = setting(1, "Tokens seen fewer times in training become <unk>.")
    max_vocab: int | None = setting(None, "Keep at most this many tokens (<unk> included).")
    dev_frac: float = setting(0.1, "Without a dev set, hold out this fraction of train (seeded).")
    encoding: str = setting("utf-8", "Text encoding of the data files.")
    dtype: str = setting("float32", "Floating-point precision.", choices=DTYPES)
