"""What ``charlm train`` was told, as one typed object: the command line builds it, and
``training_run.py`` turns it into a run. Plain data, so the command line never loads Numba for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class GivenOptions:
    """The options a user gave: fields whose value is not None."""

    def given(self, names) -> dict:
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass
class TrainOptions(GivenOptions):
    """What ``charlm train`` was told. None is "not given": a new run takes the configuration's
    default, a resumed run its saved value. The names are those of the configuration fields."""

    corpus: Path | list[Path] | None = None  # a file or folder, or several paths (a corpus of files)
    out_dir: Path | None = None
    resume: bool = False
    force: bool = False
    init_from: Path | None = None  # fine-tune: a run folder or checkpoint whose weights start this run
    grow_vocab: bool = False  # fine-tune at char level: add the new text's unseen characters
    quiet: bool = False
    # the model (ModelConfig)
    model: str | None = None
    memory: int | None = None
    hops: int | None = None
    linear_units: int | None = None
    cell: str | None = None
    hidden_size: int | None = None
    layers: int | None = None
    embed_size: int | None = None
    dropout: float | None = None
    tie_weights: bool | None = None
    init_scale: float | None = None
    forget_bias: float | None = None
    softmax: str | None = None
    cutoffs: list[int] | None = None
    tail_div: float | None = None
    # training (TrainConfig)
    seq_len: int | None = None
    batch_size: int | None = None
    epochs: int | None = None
    max_steps: int | None = None
    max_time: str | float | None = None  # "90s", "30m", ... or seconds
    optimizer: str | None = None
    lr: float | None = None
    lr_decay: float | None = None
    decay_start: int | None = None
    decay_patience: int | None = None
    min_lr: float | None = None
    stop_lr: float | None = None
    decay_threshold: float | None = None
    decay_against: str | None = None
    clip_norm: float | None = None  # 0: off
    clip_value: float | None = None
    eval_every: int | None = None
    patience: int | None = None
    seed: int | None = None
    threads: int | None = None
    bptt: str | None = None
    positions: str | None = None
    freeze_embedding: bool | None = None
    # the data (DataConfig)
    level: str | None = None
    val: Path | None = None
    val_frac: float | None = None
    test: Path | None = None
    min_freq: int | None = None
    max_vocab: int | None = None
    encoding: str | None = None
    glob: str | None = None
    skip_bad: bool | None = None
    dtype: str | None = None
