"""What ``charlm classify train`` was told, as one typed object built by the command line. None is
"not given": the configuration's default applies (``config.py``, the one home of each default).

Derived from the configuration classes: every option of ``ClassifierConfig``, ``FitConfig`` and
``ClassifyDataConfig`` is a field; only what the command alone has is written here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import GivenOptions, options_class
from .config import ClassifierConfig, ClassifyDataConfig, FitConfig


@dataclass
class ClassifyCommand(GivenOptions):
    """What only ``charlm classify train`` has, beside the configurations' options."""

    data: Path | None = None
    out_dir: Path | None = None
    force: bool = False
    folds: int | None = None
    dev: Path | None = None
    test: Path | None = None
    threads: int | None = None
    model: str | None = None  # a sequence classifier (MODELS) or a tree model (TREE_MODELS)
    # tree models (tree_session.py)
    classes: int | None = None  # 5: fine-grained, 2: binary
    l2: float | None = None
    recipe: str | None = None  # tree_recipe.RECIPES


ClassifyOptions = options_class("ClassifyOptions", ClassifyCommand, ClassifierConfig, FitConfig, ClassifyDataConfig,
                                doc="What ``charlm classify train`` was told: None is \"not given\".")
