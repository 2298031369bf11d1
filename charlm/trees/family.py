"""The tree models' entry in the table of classifier families (``supervised/families.py``):
the recursive NN, the RNTN and the Tree-LSTM over bracketed parse trees. Light: the models and the
session are imported when asked for."""

from __future__ import annotations

from ..supervised.families import Family
from .config import TREE_MODELS, TreeModelConfig


class TreeFamily(Family):
    models = TREE_MODELS
    described = f"the tree models (--model {', '.join(TREE_MODELS)})"
    session = "charlm.trees.session"
    config_class = TreeModelConfig
    own_options = ("classes", "l2", "recipe")

    def build(self, config, dtype):
        from .models import build_tree_model

        return build_tree_model(config, dtype)
