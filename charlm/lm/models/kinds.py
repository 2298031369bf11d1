"""The one place that picks a language model's class from its configuration: the recurrent
LanguageModel (model.py) or the end-to-end memory network (memory_model.py). Both take
(config, dtype, seed) and answer the same calls."""

from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .memory import MemoryLanguageModel
from .recurrent import LanguageModel


def build_language_model(config: ModelConfig, dtype=np.float32, seed: int = 0):
    if config.model == "memn2n":
        return MemoryLanguageModel(config, dtype, seed=seed)
    return LanguageModel(config, dtype, seed=seed)


def is_recurrent(model) -> bool:
    return isinstance(model, LanguageModel)

