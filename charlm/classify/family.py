"""The sequence classifiers' entry in the table of classifier families (``supervised/families.py``):
the Text-RNN and the RCNN over ``label<TAB>text``, the default family. Light: the models and the
session are imported when asked for."""

from __future__ import annotations

from ..supervised.families import Family
from .config import MODELS, ClassifierConfig


class SequenceFamily(Family):
    models = MODELS
    described = f"the sequence classifiers ({', '.join(MODELS)})"
    session = "charlm.classify.session"
    config_class = ClassifierConfig
    own_options = ("cell", "layers", "pool", "proj_size", "folds", "level")

    def build(self, config, dtype):
        from .models import build_classifier

        return build_classifier(config, dtype)
