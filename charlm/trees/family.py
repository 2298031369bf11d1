"""The tree models' entry in the table of classifier families (``supervised/families.py``):
the recursive NN, the RNTN and the Tree-LSTM over bracketed parse trees. Light: each method imports
the family's modules when called."""

from __future__ import annotations

from ..supervised.families import Family
from .config import TREE_MODELS, TreeModelConfig


class TreeFamily(Family):
    models = TREE_MODELS
    described = f"the tree models (--model {', '.join(TREE_MODELS)})"
    own_options = ("classes", "l2", "recipe")

    def config_class(self) -> type:
        return TreeModelConfig

    def build(self, config, dtype):
        from .models import build_tree_model

        return build_tree_model(config, dtype)

    def prepare(self, options):
        from . import session

        return session.prepare(options)

    def train(self, plan, sink=None) -> dict:
        from . import session

        return session.train(plan, sink)

    def predict(self, snap, texts, threads=None):
        from . import session

        return session.predict(snap, texts, threads)

    def evaluate(self, snap, file, threads=None) -> dict:
        from . import session

        return session.evaluate(snap, file, threads)
