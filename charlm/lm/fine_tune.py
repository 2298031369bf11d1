"""``charlm train NEW.txt --init-from RUN``: a new run that starts from another run's weights.

The model (shape, cell, level, vocabulary) is the old one; everything about training (optimizer
and its moments, learning rate, stop rules, the data) is the new run's own. What the old model
fixes cannot be set again: such an option is refused by name rather than ignored."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..store.runfolder import resolve_checkpoint
from ..text.files import TextNote
from .model import LanguageModel
from .saved_model import Snapshot, load_model

# Model options the starting weights decide. --dropout is not among them: it regularises the
# training to come and may differ from the old run's.
FIXED_BY_WEIGHTS = ("cell", "hidden_size", "layers", "embed_size", "tie_weights", "init_scale", "forget_bias")


def load_start(options) -> tuple[Path, Snapshot]:
    """The checkpoint --init-from names, loaded, with every option it makes impossible refused."""
    path = resolve_checkpoint(Path(options.init_from))
    snap = load_model(path)
    saved = snap.meta["model"]
    for name in FIXED_BY_WEIGHTS:
        given = getattr(options, name)
        if given is not None and given != saved.get(name):
            raise ConfigError(f"--{name.replace('_', '-')} cannot be set with --init-from: the weights of {path} "
                              f"fix it ({saved.get(name)!r})")
    if options.level is not None and options.level != snap.vocab.level:
        raise ConfigError(f"--level {options.level} cannot be used with --init-from: {path} is a "
                          f"{snap.vocab.level}-level model")
    for name in ("min_freq", "max_vocab"):
        if getattr(options, name) is not None:
            raise ConfigError(f"--{name.replace('_', '-')} cannot be used with --init-from: the vocabulary is {path}'s")
    return path, snap


def starting_model(snap: Snapshot, dropout: float | None, dtype: np.dtype, seed: int) -> LanguageModel:
    """A copy of the snapshot's model in ``dtype``, with the new run's dropout."""
    config = snap.model.config
    if dropout is not None:
        config = type(config).from_dict({**config.to_dict(), "dropout": dropout})
    model = LanguageModel(config, dtype, seed=seed)
    for name, array in model.params.items():
        array[...] = snap.model.params[name]
    model.refresh()
    return model


def provenance(path: Path, snap: Snapshot) -> dict:
    """What ``charlm info`` shows of where a fine-tuned run's first weights came from."""
    return {
        "checkpoint": str(path.resolve()),
        "step": snap.meta.get("progress", {}).get("step"),
        "corpus": snap.meta.get("corpus", {}).get("path"),
    }


def note_unknown_words(corpus) -> None:
    """Word level: new words the old vocabulary lacks train as <unk>; say how many."""
    unknown, total = corpus.unknown.get("train", 0), len(corpus.train)
    if unknown:
        warnings.warn(TextNote(f"{unknown:,} of the {total:,} training words ({unknown / total:.1%}) are not in "
                               "the model's vocabulary: they train as <unk>"))
