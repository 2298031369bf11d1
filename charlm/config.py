"""Model configuration: what a checkpoint needs to rebuild the network."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .errors import ConfigError
from .recurrent import CELLS


@dataclass
class ModelConfig:
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
                raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if not (0.0 <= self.dropout < 1.0) or math.isnan(self.dropout):
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.tie_weights and self.embed_size != self.hidden_size:
            raise ConfigError(
                f"tied weights need embed-size == hidden-size (got {self.embed_size} and {self.hidden_size})"
            )
        if self.init_scale is not None and not (0.0 < self.init_scale < math.inf):
            raise ConfigError(f"init-scale must be a positive number, got {self.init_scale}")
        if self.forget_bias is not None and not math.isfinite(self.forget_bias):
            raise ConfigError(f"forget-bias must be finite, got {self.forget_bias}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**data)
