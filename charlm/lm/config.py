"""Model configuration: what a checkpoint needs to rebuild the network."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import ConfigError
from ..core.adaptive_softmax import check_cutoffs
from ..core.cells import CELLS
from ..core.optimizer_names import DEFAULT_LR, OPTIMIZER_NAMES
from ..core.params import DTYPES
from ..settings import Settings, StrictSettings, check_seed, option_name, seed_setting, setting
from ..text.vocab import LEVELS
from .models.kinds import DEFAULT_KIND, KINDS, kind_named, kind_of

SOFTMAXES = ("full", "adaptive")
BPTT_MODES = ("truncated", "full")  # carry the hidden state across windows, or reset it every window
ADAPTIVE_CUTOFFS = (2000, 10000)  # Grave et al.'s for a vocabulary of about 30k-50k words


POSITIONS = ("streams", "random")  # TrainConfig.positions
DECAY_REFERENCES = ("best", "previous")  # TrainConfig.decay_against


@dataclass
class ModelConfig(StrictSettings):
    vocab_size: int
    # The kind of network (models/kinds.py): rnn, embedding, recurrent layers, decoder
    # (models/recurrent.py); memn2n, the end-to-end memory network of Sukhbaatar et al. 2015
    # (models/memory.py), which attends over the last --memory tokens.
    model: str = setting(DEFAULT_KIND, "Network: rnn (recurrent layers), or memn2n (an end-to-end memory network, "
                                "150 units and trained by its authors' recipe unless told otherwise).", choices=tuple(KINDS))
    memory: int = setting(100, "memn2n: tokens remembered before each target.")
    hops: int = setting(6, "memn2n: attention hops over the memory.")
    linear_units: int | None = setting(None, "memn2n: units without the ReLU.", shown="half the hidden size")
    cell: str = setting("lstm", "Recurrent cell.", choices=tuple(CELLS))
    hidden_size: int = setting(256, "Units per layer.")
    layers: int = setting(2, "Recurrent layers.")
    embed_size: int | None = setting(None, "Embedding size.", shown="the hidden size")  # None: the hidden size
    # Inverted dropout on the non-recurrent connections (Zaremba et al. 2014): the embedding
    # output, between layers, and before the decoder. The recurrent path is never dropped.
    dropout: float = setting(0.0, "Dropout between layers (non-recurrent connections).")
    # decoder weight = embedding (Press & Wolf 2017); needs embed == hidden
    tie_weights: bool = setting(False, "Share the embedding with the output layer.")
    # Every weight and bias uniform in +-init_scale (Zaremba: 0.1 small, 0.05 medium). None: PyTorch's
    # defaults (recurrent weights +-1/sqrt(H); embedding and decoder +-0.1, decoder bias 0, as
    # pytorch/examples' word_language_model).
    init_scale: float | None = setting(None, "Initialise every weight uniform in +-S (Zaremba et al.).",
                                       shown="PyTorch's initialisation")
    # None leaves the random initialisation alone, as PyTorch does; a new run of charlm train
    # starts from models/recurrent_kind.default_forget_bias(cell).
    forget_bias: float | None = setting(None, "Initial forget-gate bias of LSTMs.", shown="1 for LSTMs")
    # The output layer: a full softmax over the vocabulary, or the adaptive softmax of Grave et al.
    # 2017 (core/adaptive_softmax.py) for large word vocabularies.
    softmax: str = setting("full", "Output layer: full, or adaptive (Grave et al. 2017: a head over the frequent words, "
                                   "smaller tail clusters; word level).", choices=SOFTMAXES)
    cutoffs: list[int] | None = setting(None, "Adaptive softmax: where the head and each tail cluster end, in word ids "
                                              "(by frequency), e.g. 2000,10000.", shown=",".join(map(str, ADAPTIVE_CUTOFFS)) + " with --softmax adaptive")
    tail_div: float = setting(4.0, "Adaptive softmax: each tail cluster's vectors are this many times narrower than the one before.")

    def __post_init__(self):
        if self.linear_units is None:
            self.linear_units = self.hidden_size // 2
        if self.embed_size is None:
            self.embed_size = self.hidden_size
        if self.softmax == "adaptive" and self.cutoffs is None:
            self.cutoffs = list(ADAPTIVE_CUTOFFS)
        self.validate()

    @property
    def kernel_family(self) -> str:
        """What the compiled kernels depend on, for the compile markers: the cell, or the kind."""
        return kind_of(self).kernel_family(self)

    def describe(self) -> str:
        """The network in a few words: "lstm 256x2, embedding 256", "memn2n 150, 6 hops over 100 tokens"."""
        return kind_of(self).describe(self)

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        kind_named(self.model)  # refuses an unknown one
        # The sizes first: linear_units and embed_size default to a share of hidden_size, so a bad
        # hidden_size must be named as itself, not as the setting derived from it.
        for name in ("vocab_size", "hidden_size", "layers", "embed_size", "memory", "hops"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{option_name(name)} must be a positive integer, got {value!r}")
        if isinstance(self.linear_units, bool) or not isinstance(self.linear_units, int) \
                or not 0 <= self.linear_units <= self.hidden_size:
            raise ConfigError(f"{option_name('linear_units')} must be an integer from 0 to the hidden size "
                              f"{self.hidden_size}, got {self.linear_units!r}")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            raise ConfigError(f"{option_name('dropout')} must be in [0, 1), got {self.dropout}")
        if self.tie_weights and self.embed_size != self.hidden_size:
            raise ConfigError(f"{option_name('tie_weights')} needs {option_name('embed_size')} == "
                              f"{option_name('hidden_size')} (got {self.embed_size} and {self.hidden_size})")
        if self.init_scale is not None and not (0.0 < self.init_scale < math.inf):
            raise ConfigError(f"{option_name('init_scale')} must be a positive number, got {self.init_scale}")
        if self.forget_bias is not None and not math.isfinite(self.forget_bias):
            raise ConfigError(f"{option_name('forget_bias')} must be finite, got {self.forget_bias}")
        if self.softmax not in SOFTMAXES:
            raise ConfigError(f"unknown softmax {self.softmax!r}; choose one of {', '.join(SOFTMAXES)}")
        if self.softmax == "adaptive":
            if self.tie_weights:
                raise ConfigError(f"{option_name('tie_weights')} cannot be used with {option_name('softmax')} adaptive: "
                                  "its head and tail clusters have weights of their own, not one row per word")
            self.cutoffs = check_cutoffs(self.cutoffs, None, self.hidden_size, self.tail_div)
        elif self.cutoffs is not None:
            raise ConfigError(f"{option_name('cutoffs')} is for {option_name('softmax')} adaptive")



@dataclass
class TrainConfig(Settings):
    """How to train. Defaults give a good character model of the bundled corpus in about ten
    minutes on 2 cores."""

    seq_len: int = setting(100, "Window length T: backpropagation through at most this many steps.")
    batch_size: int = setting(50, "Parallel streams N.")
    epochs: int = setting(7, "Passes over the training text.")  # the bundled corpus: about ten minutes on 2 cores
    max_steps: int | None = setting(None, "Stop after this many windows.")
    # seconds: stop after the first window that ends past this much training
    max_time: float | None = setting(None, "Stop after this much training time, e.g. 90s, 30m, 2h (validation included).")
    optimizer: str = setting("adam", "Update rule.", choices=OPTIMIZER_NAMES)
    # None: the optimizer's own default (DEFAULT_LR)
    lr: float | None = setting(None, "Learning rate.", shown="0.002 for adam and rmsprop, 1 for sgd, 0.01 for adagrad")
    # Learning-rate decay. With decay_start, an epoch schedule (Zaremba et al. 2014): from epoch
    # decay_start on, each epoch runs at lr * lr_decay ** (epoch - decay_start + 1). Without it, a
    # plateau rule: multiply the rate by lr_decay whenever a validation fails to improve.
    lr_decay: float = setting(0.5, "Multiply the learning rate by this when validation stops improving (or each epoch from --decay-start).")
    decay_start: int | None = setting(None, "Decay the learning rate every epoch from this one on, instead of on plateaus.")
    # The plateau rule's patience and floor. The defaults (every non-improving validation, no
    # floor) are the rule of the published runs in docs/results.md, which they reproduce.
    decay_patience: int = setting(1, "Plateau rule: lower the rate after this many validations in a row without improvement.")
    min_lr: float = setting(0.0, "Plateau rule: never lower the rate below this; 0: no floor.")
    # The end of a recipe that anneals until the rate runs out (the memory network's authors
    # stop once theirs falls below 1e-5): the rate it would fall to is never trained at.
    stop_lr: float = setting(0.0, "Plateau rule: stop when the rate would be lowered below this; 0: never.")
    # What counts as an improvement, for the plateau rule and --patience: a loss below the
    # reference's by more than this fraction of it (the relative threshold of PyTorch's
    # ReduceLROnPlateau), the reference being the best scheduled validation so far or the one
    # just before. The memory network's authors anneal against the previous one, with 0.01%.
    decay_threshold: float = setting(0.0, "Plateau rule and --patience: a validation improves only on a loss lower than the reference's by more than this fraction of it.")
    decay_against: str = setting("best", "Plateau rule and --patience: the reference a validation must improve on: the best one so far, or the previous one.", choices=DECAY_REFERENCES)
    # global L2 norm bound on the gradient (None: off)
    clip_norm: float | None = setting(5.0, "Clip the gradient's global L2 norm to this; 0 turns it off.", zero="off")
    # per-entry bound, applied before the norm clip (None: off)
    clip_value: float | None = setting(None, "Clip every gradient entry to +-this.")
    eval_every: int = setting(0, "Validate every this many steps; 0: at the end of each epoch.")
    patience: int | None = setting(None, "Stop after this many validations without improvement; 0: never.", zero="never")
    seed: int = seed_setting(0, "initialisation, dropout")
    threads: int | None = setting(None, "CPU threads.", shown="all cores")
    # truncated: carry the state across windows; full: reset it every window
    bptt: str = setting("truncated", "truncated: carry the hidden state across windows; full: reset it every window.",
                        choices=BPTT_MODES)
    # Where a window's N rows come from. A recurrent model needs streams (its state is carried
    # along them); a memory network carries nothing, so its rows can be drawn anywhere, as its
    # authors draw each batch's 128 targets at random positions.
    positions: str = setting("streams", "streams: N contiguous streams, read in order; random: N positions drawn anew for "
                                        "each window (--model memn2n only, as its authors train it).", choices=POSITIONS)
    # Fine-tuning on little text: keep the input embedding as it is (its gradient is zeroed
    # before clipping, so the norm bound applies to what is trained).
    freeze_embedding: bool = setting(False, "Keep the input embedding fixed (e.g. when fine-tuning with --init-from).")
    checkpoint_seconds: float = 60.0  # also save last.npz this often (and at each validation)
    log_every: int = 20  # steps between progress lines in metrics.jsonl

    def __post_init__(self):
        self._zero_means_none()
        if self.lr is None and self.optimizer in DEFAULT_LR:
            self.lr = DEFAULT_LR[self.optimizer]
        self.validate()

    def validate(self) -> None:
        def positive_int(name, allow_none=False, said=None):
            value = getattr(self, name)
            if value is None and allow_none:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{said or option_name(name)} must be a positive integer, got {value!r}")

        if self.optimizer not in OPTIMIZER_NAMES:
            raise ConfigError(f"{option_name('optimizer')} must be adam, sgd or rmsprop, got {self.optimizer!r}")
        positive_int("seq_len")
        positive_int("batch_size")
        positive_int("epochs")
        positive_int("max_steps", allow_none=True)
        positive_int("decay_start", allow_none=True)
        positive_int("patience", allow_none=True)
        positive_int("decay_patience")
        if not (self.min_lr >= 0 and math.isfinite(self.min_lr)):
            raise ConfigError(f"{option_name('min_lr')} must be 0 (no floor) or a positive number, got {self.min_lr}")
        if not (self.stop_lr >= 0 and math.isfinite(self.stop_lr)):
            raise ConfigError(f"{option_name('stop_lr')} must be 0 (never stop) or a positive number, got {self.stop_lr}")
        if not (0 <= self.decay_threshold < 1):
            raise ConfigError(f"{option_name('decay_threshold')} must be in [0, 1) (a fraction of the loss), got {self.decay_threshold}")
        if self.decay_against not in DECAY_REFERENCES:
            raise ConfigError(f"{option_name('decay_against')} must be one of {', '.join(DECAY_REFERENCES)}, got {self.decay_against!r}")
        self._refuse_idle_plateau_options()
        if 0 < self.stop_lr <= self.min_lr:
            raise ConfigError(f"{option_name('stop_lr')} {self.stop_lr:g} cannot take effect with {option_name('min_lr')} {self.min_lr:g}: "
                              "the rate never falls below its floor")
        positive_int("threads", allow_none=True)
        check_seed(self.seed)
        positive_int("log_every", said="the metrics log interval (log_every)")
        if not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ConfigError(f"{option_name('eval_every')} must be 0 (every epoch) or a positive integer, got {self.eval_every!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"{option_name('lr')} must be a positive number, got {self.lr}")
        if not (0 < self.lr_decay <= 1):
            raise ConfigError(f"{option_name('lr_decay')} must be in (0, 1] (1: no decay), got {self.lr_decay}")
        for name, value in (("clip_norm", self.clip_norm), ("clip_value", self.clip_value)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{option_name(name)} must be a positive number, got {value}")
        if self.bptt not in BPTT_MODES:
            raise ConfigError(f"{option_name('bptt')} must be one of {', '.join(BPTT_MODES)}, got {self.bptt!r}")
        if self.positions not in POSITIONS:
            raise ConfigError(f"{option_name('positions')} must be one of {', '.join(POSITIONS)}, got {self.positions!r}")
        if self.max_time is not None and not (self.max_time > 0 and math.isfinite(self.max_time)):
            raise ConfigError(f"{option_name('max_time')} must be a positive duration, got {self.max_time}")
        if not (self.checkpoint_seconds > 0):
            raise ConfigError(f"checkpoint interval must be positive, got {self.checkpoint_seconds}")

    def _refuse_idle_plateau_options(self) -> None:
        """--decay-patience, --min-lr and --stop-lr belong to the plateau rule, which does not
        run with an epoch schedule (--decay-start) or without decay (--lr-decay 1); so do
        --decay-threshold and --decay-against unless --patience is there to use them."""
        if self.decay_start is None and self.lr_decay < 1:
            return
        idle = [("decay_patience", 1), ("min_lr", 0.0), ("stop_lr", 0.0)]
        if self.patience is None:
            idle += [("decay_threshold", 0.0), ("decay_against", "best")]
        changed = [name for name, default in idle if getattr(self, name) != default]
        if changed:
            why = option_name("decay_start") if self.decay_start is not None else f"{option_name('lr_decay')} 1"
            names = ", ".join(option_name(name) for name in changed)
            raise ConfigError(f"{names} cannot take effect with {why}: the plateau rule does not run")



@dataclass
class DataConfig:
    """The data a run trains on: how the corpus becomes token arrays (saved with the run as its
    ``corpus`` metadata), and the floating-point precision of the model that reads them."""

    level: str = setting("char", "Tokens: characters or whitespace-separated words.", choices=LEVELS)
    val_frac: float | None = setting(
        0.05, "Hold out this fraction of the training text for validation (a corpus of files: its last whole "
              "files, when there are enough); 0: no validation at all (not even a folder's valid split).",
        shown="0.05 without --val")
    glob: str | None = setting(None, "A corpus folder: read only the files whose name matches this pattern "
                               "(e.g. '*.md'; with a '/', their path inside the folder).")
    skip_bad: bool = setting(False, "A corpus of files: leave out the files that cannot be read as text "
                             "(binary, bad bytes, unreadable), listing them, instead of refusing the corpus.")
    min_freq: int = setting(1, "Word level: words seen fewer times become <unk>.")
    max_vocab: int | None = setting(None, "Word level: keep at most this many words.")
    encoding: str = setting("utf-8", "Text encoding of the corpus files.")
    dtype: str = setting("float32", "Floating-point precision.", choices=DTYPES)


_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """'90' or '90s', '30m', '1.5h' -> seconds; ConfigError for anything else."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--max-time must be a positive duration such as 90s, 30m or 2h, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]
