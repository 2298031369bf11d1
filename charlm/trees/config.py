"""What a checkpoint needs to rebuild a tree model (``TreeModelConfig``), and where the tree models'
training defaults differ from the sequence classifiers' (``supervised/config.py``'s ``FitConfig``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..settings import StrictSettings, option_name

TREE_MODELS = ("treernn", "rntn", "treelstm")
# Sizes as the papers trained them from scratch: Socher et al. 2013 used d = 25-35 for the
# recursive NN and the RNTN, Tai et al. 2015 a memory of 150 for the Tree-LSTM (with dropout 0.5
# on the classifier's input).
TREE_DEFAULT_SIZE = {"treernn": 30, "rntn": 30, "treelstm": 150}
TREE_DEFAULT_DROPOUT = {"treernn": 0.0, "rntn": 0.0, "treelstm": 0.5}


@dataclass
class TreeModelConfig(StrictSettings):
    model: str  # one of TREE_MODELS
    vocab_size: int
    num_classes: int
    hidden_size: int | None = None  # node vectors; None: TREE_DEFAULT_SIZE
    embed_size: int | None = None  # word vectors; must equal hidden_size but for the Tree-LSTM
    dropout: float | None = None  # on every node's vector before its classifier
    # recursive NN / RNTN: a leaf's vector is tanh(word vector), as CoreNLP's (--recipe corenlp);
    # False in checkpoints from before it existed
    leaf_tanh: bool = False

    def __post_init__(self):
        if self.model not in TREE_MODELS:
            raise ConfigError(f"unknown tree model {self.model!r}; choose one of {', '.join(TREE_MODELS)}")
        if self.hidden_size is None:
            self.hidden_size = TREE_DEFAULT_SIZE[self.model]
        if self.embed_size is None:
            self.embed_size = self.hidden_size
        if self.dropout is None:
            self.dropout = TREE_DEFAULT_DROPOUT[self.model]
        for name in ("vocab_size", "num_classes", "hidden_size", "embed_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{option_name(name)} must be a positive integer, got {value!r}")
        if self.model != "treelstm" and self.embed_size != self.hidden_size:
            raise ConfigError(f"--embed-size must equal --hidden-size for {self.model}: a leaf's vector is its word's")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.leaf_tanh, bool):
            raise ConfigError(f"leaf_tanh must be true or false, got {self.leaf_tanh!r}")
        if self.leaf_tanh and self.model == "treelstm":
            raise ConfigError("a Tree-LSTM's leaves go through its own gates: leaf_tanh is for treernn and rntn")


# Training, where a tree model's defaults differ from the sequence classifiers' (FitConfig): AdaGrad
# with L2 1e-4 and batches of 25 trees, as Tai et al. 2015 trained (Socher et al. 2013 used AdaGrad too).
TREE_FIT_DEFAULTS = {"optimizer": "adagrad", "batch_size": 25, "epochs": 30, "patience": 5}
# AdaGrad's first step moves every weight by about the rate, whatever its gradient: at 0.05 the
# RNTN's tensor saturates its tanh units (dev root accuracy 36.7%, against 39.5% at Socher's 0.01).
TREE_DEFAULT_LR = {"treernn": 0.05, "rntn": 0.01, "treelstm": 0.05}
TREE_DEFAULT_L2 = 1e-4
TREE_DEFAULT_CLASSES = 5


def tree_defaults_text() -> str:
    """How ``classify train --help`` states the tree models' own defaults."""
    fit = TREE_FIT_DEFAULTS
    sizes = ", ".join(f"{size} ({model})" for model, size in TREE_DEFAULT_SIZE.items())
    rates = ", ".join(f"{lr:g} ({model})" for model, lr in TREE_DEFAULT_LR.items())
    return (f"tree models default to --optimizer {fit['optimizer']}, --lr {rates}, --batch-size {fit['batch_size']} "
            f"--epochs {fit['epochs']} --patience {fit['patience']}, --hidden-size {sizes}, --dropout "
            f"{TREE_DEFAULT_DROPOUT['treelstm']:g} for treelstm and 0 otherwise")
