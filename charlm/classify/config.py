"""What a checkpoint needs to rebuild a sequence classifier (Text-RNN, RCNN). How one is trained
(``FitConfig``) and how its data is read (``ClassifyDataConfig``): ``supervised/config.py``, shared
with the tree models."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..settings import StrictSettings, option_name, setting
from ..errors import ConfigError
from ..core.cells import CELLS, LSTMS

MODELS = ("textrnn", "rcnn")
POOLS = ("last", "mean", "max")


@dataclass
class ClassifierConfig(StrictSettings):
    model: str  # "textrnn" or "rcnn"
    vocab_size: int
    num_classes: int
    cell: str = setting("lstm", "Recurrent cell of both directions.", choices=tuple(CELLS))
    embed_size: int = setting(128, "Embedding size (learned from scratch).")
    # H per direction: a Text-RNN's features are 2H wide
    hidden_size: int = setting(128, "Units per direction.")
    # stacked bidirectional layers (Text-RNN); the RCNN has exactly one
    layers: int = setting(1, "Stacked bidirectional layers (Text-RNN; the RCNN has 1).")
    # Inverted dropout on the embedding output, between layers and on the pooled features.
    dropout: float = setting(0.5, "Dropout on the embeddings, between layers and on the sentence vector.")
    # Text-RNN's sentence vector: "last" joins the forward direction's state after the last word
    # with the reverse direction's after the first; "mean"/"max" pool both over the valid steps.
    # The RCNN always max-pools (default_pool).
    pool: str = setting("last", "Text-RNN sentence vector: last states of both directions, or mean/max over the words.", choices=POOLS)
    # RCNN: width of y = tanh(W [c_l; e; c_r] + b); None: the hidden size
    proj_size: int | None = setting(None, "RCNN: width of the tanh layer over (left context, word, right context).",
                                    shown="the hidden size")
    # LSTMs start with forget-gate bias 1 (Jozefowicz et al. 2015); None keeps the random init.
    forget_bias: float | None = None

    def __post_init__(self):
        if self.proj_size is None:
            self.proj_size = self.hidden_size
        if self.forget_bias is None and self.cell in LSTMS:
            self.forget_bias = 1.0
        self.validate()

    def validate(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.cell not in CELLS:
            raise ConfigError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        for name in ("vocab_size", "num_classes", "embed_size", "hidden_size", "layers", "proj_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{option_name(name)} must be a positive integer, got {value!r}")
        if self.num_classes < 2:
            raise ConfigError(f"a classifier needs at least two classes, the training data has {self.num_classes}")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.pool not in POOLS:
            raise ConfigError(f"unknown pooling {self.pool!r}; choose one of {', '.join(POOLS)}")
        if self.model == "rcnn":
            if self.layers != 1:
                raise ConfigError("--layers must be 1 for the RCNN: its left and right contexts come from one "
                                  "bidirectional layer (a stack would let each word see itself)")
            if self.pool != "max":
                raise ConfigError("the RCNN always max-pools over time: --pool is for the Text-RNN")
        if self.forget_bias is not None and not math.isfinite(self.forget_bias):
            raise ConfigError(f"forget bias must be finite, got {self.forget_bias}")



def default_pool(model: str) -> str:
    """The RCNN max-pools over time by construction; the Text-RNN takes the last states."""
    return "max" if model == "rcnn" else ClassifierConfig.pool
