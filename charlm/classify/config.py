"""What a checkpoint needs to rebuild a classifier, and how to train one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..core.optimizer_names import OPTIMIZER_NAMES
from ..core.params import DTYPES
from ..settings import Settings, StrictSettings, check_seed, option_name, seed_setting, setting
from ..text.vocab import LEVELS
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


# ------------------------------------------------------------------ recursive networks over trees
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
