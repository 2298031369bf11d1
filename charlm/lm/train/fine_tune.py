"""``charlm train NEW.txt --init-from RUN``: a new run that starts from another run's weights.

The model (shape, cell, level, vocabulary) is the old one; everything about training (optimizer
and its moments, learning rate, stop rules, the data) is the new run's own. What the old model
fixes cannot be set again: such an option is refused by name rather than ignored."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from ...store.runfolder import resolve_checkpoint
from ...text.files import TextNote
from ...text.vocab import Vocab
from ..models.protocol import LanguageModel
from ..models.kinds import build_language_model, kind_of
from ..models.saved import Snapshot, load_model

# Model options the starting weights decide. --dropout is not among them: it regularises the
# training to come and may differ from the old run's.
# A grown vocabulary's new output rows start with a bias this far below the smallest old one, so
# the new characters take almost no probability from the old ones at first (the old text's loss
# stays the old model's to ~1e-6) and are learnt from there.
NEW_TOKEN_BIAS_BELOW = 10.0

# The parameters with one row per token (row = token id).
TOKEN_ROWS = ("encoder.weight", "decoder.weight", "decoder.bias", "memory.A", "memory.C")

FIXED_BY_WEIGHTS = ("model", "memory", "hops", "linear_units", "cell", "hidden_size", "layers", "embed_size",
                    "tie_weights", "init_scale", "forget_bias", "softmax", "cutoffs", "tail_div")


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
    kind_of(snap.model.config).refuse_with_init_from(options, path)
    if options.level is not None and options.level != snap.vocab.level:
        raise ConfigError(f"--level {options.level} cannot be used with --init-from: {path} is a "
                          f"{snap.vocab.level}-level model")
    if options.grow_vocab and snap.vocab.level != "char":
        raise ConfigError("--grow-vocab applies to character-level models: at word level, new words train as <unk>")
    for name in ("min_freq", "max_vocab"):
        if getattr(options, name) is not None:
            raise ConfigError(f"--{name.replace('_', '-')} cannot be used with --init-from: the vocabulary is {path}'s")
    return path, snap


def grow_char_corpus(corpus, snap: Snapshot, source: Path, grow: bool):
    """A character corpus read with its own vocabulary, re-encoded with the old model's, grown by
    the characters it lacks (appended after the old ones, so every old id stays) when ``grow``;
    unseen characters without ``grow`` are refused, named."""
    old = snap.vocab
    unseen = [token for token in corpus.vocab.tokens if token not in old]
    if unseen and not grow:
        shown = ", ".join(repr(t) for t in unseen[:20]) + (f" and {len(unseen) - 20} more" if len(unseen) > 20 else "")
        raise DataError(f"{corpus.source} has {len(unseen)} character(s) the model in {source} never saw: "
                        f"{shown}; --grow-vocab adds them")
    vocab = Vocab(old.tokens + tuple(unseen), "char") if unseen else old
    to_new_id = np.array([vocab.id_of(token) for token in corpus.vocab.tokens], dtype=vocab.dtype)
    splits = {name: None if ids is None else to_new_id[ids]
              for name, ids in (("train", corpus.train), ("val", corpus.val), ("test", corpus.test))}
    return dataclasses.replace(corpus, vocab=vocab, **splits)


def starting_model(snap: Snapshot, vocab_size: int, dropout: float | None, dtype: np.dtype, seed: int) -> LanguageModel:
    """The snapshot's model in ``dtype``, with the new run's dropout and ``vocab_size`` tokens:
    rows for tokens beyond the old ones start as a fresh model's (their output bias far below the
    old ones'); every old parameter is copied unchanged."""
    config = snap.model.config.to_dict()
    config.update(vocab_size=vocab_size, **({"dropout": dropout} if dropout is not None else {}))
    model = build_language_model(type(snap.model.config).from_dict(config), dtype, seed=seed)
    old_size = snap.model.config.vocab_size
    for name, array in model.params.items():
        if name in TOKEN_ROWS:
            array[:old_size] = snap.model.params[name]
        else:
            array[...] = snap.model.params[name]
    if vocab_size > old_size and "decoder.bias" in model.params:  # the memory network has no bias
        bias = model.params["decoder.bias"]
        bias[old_size:] = bias[:old_size].min() - NEW_TOKEN_BIAS_BELOW
    model.refresh()
    return model


def provenance(path: Path, snap: Snapshot, vocab: Vocab) -> dict:
    """What ``charlm info`` shows of where a fine-tuned run's first weights came from."""
    return {
        "checkpoint": str(path.resolve()),
        "added_tokens": list(vocab.tokens[len(snap.vocab):]),
        "step": snap.meta.get("progress", {}).get("step"),
        "corpus": snap.meta.get("corpus", {}).get("path"),
    }


def note_unknown_words(corpus) -> None:
    """Word level: new words the old vocabulary lacks train as <unk>; say how many."""
    unknown, total = corpus.unknown.get("train", 0), len(corpus.train)
    if unknown:
        warnings.warn(TextNote(f"{unknown:,} of the {total:,} training words ({unknown / total:.1%}) are not in "
                               "the model's vocabulary: they train as <unk>"))
