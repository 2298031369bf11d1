"""What ``charlm classify train`` was told, as one typed object built by the command line, for either
family (``supervised/families.py`` sends it to the sequence classifiers' session or the tree
models'). None is "not given": the configuration's default applies (``config.py``,
``supervised/config.py``, ``trees/config.py``: the one home of each default).

Derived from the configuration classes: every option of ``ClassifierConfig``, ``FitConfig`` and
``ClassifyDataConfig`` is a field; only what the command alone has is written here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import GivenOptions, options_class
from ..supervised.config import ClassifyDataConfig, FitConfig
from .config import ClassifierConfig


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
    # tree models (trees/session.py)
    classes: int | None = None  # 5: fine-grained, 2: binary
    l2: float | None = None
    recipe: str | None = None  # trees/recipe.py's RECIPES


ClassifyOptions = options_class("ClassifyOptions", ClassifyCommand, ClassifierConfig, FitConfig, ClassifyDataConfig,
                                doc="What ``charlm classify train`` was told: None is \"not given\".")
