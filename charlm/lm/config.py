"""Model configuration: what a checkpoint needs to rebuild the network."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from ..errors import ConfigError
from ..core.cells import CELLS

# The optimizers of core/optim.py, by name (plain data: the configuration never loads Numba).
OPTIMIZER_NAMES = ("adam", "sgd", "rmsprop")


class StrictSettings:
    """JSON form of a model's settings dataclass; loading refuses keys it does not know (a
    checkpoint from a newer charlm must not half-load)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class ModelConfig(StrictSettings):
    vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 256
    layers: int = 2
    embed_size: int | None = None  # None: the hidden size (required for tied weights anyway)
    # Inverted dropout on the non-recurrent connections (Zaremba et al. 2014): the embedding
    # output, between layers, and before the decoder. The recurrent path is never dropped.
    dropout: float = 0.0
    tie_weights: bool = False  # decoder weight = embedding (Press & Wolf 2017); needs embed == hidden
    # Every weight and bias uniform in +-init_scale (Zaremba: 0.1 small, 0.05 medium). None: PyTorch's
    # defaults (recurrent weights +-1/sqrt(H); embedding and decoder +-0.1, decoder bias 0, as
    # pytorch/examples' word_language_model).
    init_scale: float | None = None
    # Initial forget-gate bias of the LSTMs (Jozefowicz et al. 2015 recommend 1); None leaves the
    # random initialisation alone, as PyTorch does.
    forget_bias: float | None = None

    def __post_init__(self):
        if self.embed_size is None:
            self.embed_size = self.hidden_size
        self.validate()

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        for name in ("vocab_size", "hidden_size", "layers", "embed_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.tie_weights and self.embed_size != self.hidden_size:
            raise ConfigError(
                f"--tie-weights needs --embed-size == --hidden-size (got {self.embed_size} and {self.hidden_size})"
            )
        if self.init_scale is not None and not (0.0 < self.init_scale < math.inf):
            raise ConfigError(f"--init-scale must be a positive number, got {self.init_scale}")
        if self.forget_bias is not None and not math.isfinite(self.forget_bias):
            raise ConfigError(f"--forget-bias must be finite, got {self.forget_bias}")



@dataclass
class TrainConfig:
    """How to train. Defaults give a good character model of the bundled corpus in about ten
    minutes on 2 cores."""

    seq_len: int = 100  # T: tokens per window; gradients flow back at most this far
    batch_size: int = 50  # N: parallel streams
    epochs: int = 7  # the default model on the bundled corpus: about ten minutes on 2 cores
    max_steps: int | None = None  # stop after this many windows, whatever the epoch
    max_time: float | None = None  # seconds: stop after the first window that ends past this much training
    optimizer: str = "adam"
    lr: float = 2e-3
    # Learning-rate decay. With decay_start, an epoch schedule (Zaremba et al. 2014): from epoch
    # decay_start on, each epoch runs at lr * lr_decay ** (epoch - decay_start + 1). Without it, a
    # plateau rule: multiply the rate by lr_decay whenever a validation fails to improve.
    lr_decay: float = 0.5
    decay_start: int | None = None
    clip_norm: float | None = 5.0  # global L2 norm bound on the gradient (None: off)
    clip_value: float | None = None  # per-entry bound, applied before the norm clip (None: off)
    eval_every: int = 0  # steps between validations; 0: at the end of every epoch
    patience: int | None = None  # stop after this many validations without improvement
    seed: int = 0
    threads: int | None = None  # None: every core
    bptt: str = "truncated"  # truncated: carry the state across windows; full: reset it every window
    checkpoint_seconds: float = 60.0  # also save last.npz this often (and at each validation)
    log_every: int = 20  # steps between progress lines in metrics.jsonl

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        def positive_int(name, value, allow_none=False):
            if value is None and allow_none:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")

        positive_int("--seq-len", self.seq_len)
        positive_int("--batch-size", self.batch_size)
        positive_int("--epochs", self.epochs)
        positive_int("--max-steps", self.max_steps, allow_none=True)
        positive_int("--decay-start", self.decay_start, allow_none=True)
        positive_int("--patience", self.patience, allow_none=True)
        positive_int("--threads", self.threads, allow_none=True)
        positive_int("--log-every", self.log_every)
        if not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ConfigError(f"--eval-every must be 0 (every epoch) or a positive integer, got {self.eval_every!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a positive number, got {self.lr}")
        if not (0 < self.lr_decay <= 1):
            raise ConfigError(f"--lr-decay must be in (0, 1] (1: no decay), got {self.lr_decay}")
        for name, value in (("--clip-norm", self.clip_norm), ("--clip-value", self.clip_value)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive number, got {value}")
        if self.bptt not in ("truncated", "full"):
            raise ConfigError(f"--bptt must be 'truncated' or 'full', got {self.bptt!r}")
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ConfigError(f"--optimizer must be adam, sgd or rmsprop, got {self.optimizer!r}")
        if self.max_time is not None and not (self.max_time > 0 and math.isfinite(self.max_time)):
            raise ConfigError(f"--max-time must be a positive duration, got {self.max_time}")
        if not (self.checkpoint_seconds > 0):
            raise ConfigError(f"checkpoint interval must be positive, got {self.checkpoint_seconds}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """'90' or '90s', '30m', '1.5h' -> seconds; ConfigError for anything else."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--max-time must be a positive duration such as 90s, 30m or 2h, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]
