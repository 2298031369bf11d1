"""What ``charlm classify train`` was told, as one typed object built by the command line. None is
"not given": the configuration's default applies (``config.py``, the one home of each default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..lm.options import GivenOptions


@dataclass
class ClassifyOptions(GivenOptions):
    data: Path | None = None
    out_dir: Path | None = None
    force: bool = False
    folds: int | None = None
    dev: Path | None = None
    test: Path | None = None
    threads: int | None = None
    # the model (ClassifierConfig)
    model: str | None = None
    cell: str | None = None
    embed_size: int | None = None
    hidden_size: int | None = None
    layers: int | None = None
    dropout: float | None = None
    pool: str | None = None
    proj_size: int | None = None
    # tree models (tree_session.py)
    classes: int | None = None  # 5: fine-grained, 2: binary
    l2: float | None = None
    recipe: str | None = None  # tree_recipe.RECIPES
    # training (FitConfig)
    optimizer: str | None = None
    lr: float | None = None
    clip_norm: float | None = None  # 0: off
    batch_size: int | None = None
    epochs: int | None = None
    patience: int | None = None  # 0: never stop early
    seed: int | None = None
    # the data (ClassifyDataConfig)
    level: str | None = None
    min_freq: int | None = None
    max_vocab: int | None = None
    dev_frac: float | None = None
    encoding: str | None = None
    dtype: str | None = None
