"""The table of classifier families, and the one place ``charlm classify`` chooses between them:
which family prepares, trains, predicts and evaluates a ``--model``, and which builds a saved
classifier back. A family is a package built on this layer (``classify/``: the sequence
classifiers, ``trees/``: the tree models) with a :class:`Family` entry; a new one is its package,
its entry and one line in ``FAMILIES``.

Entries are named by module path and loaded on first use, as ``lm/models/kinds.py`` names the
language-model kinds, so that this layer, which both families import, imports neither of them,
and the table loads no family's heavy code until it is asked.
"""

from __future__ import annotations

import functools
import importlib

from ..errors import ConfigError

# name -> "module:class"; the first is the default (``--model`` not given, or a name no family has).
FAMILIES = {
    "sequence": "charlm.classify.family:SequenceFamily",  # textrnn, rcnn over label<TAB>text
    "trees": "charlm.trees.family:TreeFamily",  # treernn, rntn, treelstm over parse trees
}


class Family:
    """What differs between the classifier families. ``session`` names the module that does a
    family's work, loaded when first asked: ``prepare(options)`` (validate every option, read the
    data, write nothing: a plan), ``train(plan, sink)`` (one run; its summary), ``predict(snap,
    texts, threads)`` (class probabilities, n x C) and ``evaluate(snap, file, threads)`` (accuracy,
    macro-F1, per-class scores, confusion matrix); ``options`` is the command's ``ClassifyOptions``
    (every option of either family, None where not given), ``snap`` a
    ``saved_model.ClassifierSnapshot``."""

    models: tuple[str, ...] = ()  # its --model names
    described = ""  # how a refusal names it: "the tree models (--model treernn, rntn, treelstm)"
    own_options: tuple[str, ...] = ()  # options only it has: given for another family's model, refused
    session = ""  # the module of its work, "charlm.<family>.session"
    config_class: type  # the model configuration a checkpoint's ``model`` metadata is read with

    def build(self, config, dtype):
        """A model of ``config`` (loading then fills its parameters)."""
        raise NotImplementedError

    @property
    def work(self):
        return importlib.import_module(self.session)


@functools.lru_cache(maxsize=None)
def _load(name: str) -> Family:
    module, cls = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def families() -> list[Family]:
    return [_load(name) for name in FAMILIES]


def family_of(model) -> Family:
    """The family that has ``--model model``; the default one for None, or for a name no family has
    (its configuration then refuses the name, with its choices)."""
    every = families()
    return next((family for family in every if model in family.models), every[0])


def prepare(options):
    """The plan of a training run of ``options.model``'s family. An option of another family is
    refused by name first: it cannot take effect."""
    family = family_of(options.model)
    for other in families():
        if other is family:
            continue
        for name in other.own_options:
            if getattr(options, name) is not None:
                raise ConfigError(f"--{name.replace('_', '-')} is for {other.described}, "
                                  f"not --model {options.model or family.models[0]}")
    return family.work.prepare(options)


def train(plan, sink=None) -> dict:
    """One training run of a plan from ``prepare``; returns its summary."""
    return family_of(plan.options.model).work.train(plan, sink)


def predict(snap, texts: list[str], threads: int | None = None):
    """Class probabilities (n, C) of each text, by the saved model's family."""
    return family_of(snap.model.config.model).work.predict(snap, texts, threads)


def evaluate(snap, file, threads: int | None = None) -> dict:
    """The saved model's scores on a labelled file (a tree model: a file of trees)."""
    return family_of(snap.model.config.model).work.evaluate(snap, file, threads)
