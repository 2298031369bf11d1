"""The sequence classifiers' entry in the table of classifier families (``supervised/families.py``):
the Text-RNN and the RCNN over ``label<TAB>text``, the default family. Light: each method imports
the family's modules when called."""

from __future__ import annotations

from ..supervised.families import Family
from .config import MODELS, ClassifierConfig


class SequenceFamily(Family):
    models = MODELS
    described = f"the sequence classifiers ({', '.join(MODELS)})"
    own_options = ("cell", "layers", "pool", "proj_size", "folds", "level")

    def config_class(self) -> type:
        return ClassifierConfig

    def build(self, config, dtype):
        from .models import build_classifier

        return build_classifier(config, dtype)

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
