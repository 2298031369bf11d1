"""What ``charlm train`` was told, as one typed object: the command line builds it, and
``train/session.py`` turns it into a run. Plain data, so the command line never loads Numba for it.

Derived from the configuration classes (``config.py``): every option of ``ModelConfig``,
``TrainConfig`` and ``DataConfig`` is a field, None when not given (a new run then takes the
configuration's default, a resumed run its saved value); only what the command alone has is
written here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import GivenOptions, option_fields, options_class
from .config import DataConfig, ModelConfig, TrainConfig


@dataclass
class TrainCommand(GivenOptions):
    """What only ``charlm train`` has, beside the configurations' options."""

    corpus: Path | list[Path] | None = None  # a file or folder, or several paths (a corpus of files)
    out_dir: Path | None = None
    resume: bool = False
    force: bool = False
    init_from: Path | None = None  # fine-tune: a run folder or checkpoint whose weights start this run
    grow_vocab: bool = False  # fine-tune at char level: add the new text's unseen characters
    quiet: bool = False
    val: Path | None = None
    test: Path | None = None
    # --max-time as given ("90s", "30m", ...) or seconds; TrainConfig holds seconds
    max_time: str | float | None = None


# The configuration fields a user can set (those with a help line; vocab_size, log_every... are not).
MODEL_OPTIONS = option_fields(ModelConfig)
TRAIN_OPTIONS = option_fields(TrainConfig)
DATA_OPTIONS = option_fields(DataConfig)

TrainOptions = options_class("TrainOptions", TrainCommand, ModelConfig, TrainConfig, DataConfig,
                             doc="What ``charlm train`` was told: None is \"not given\".")
