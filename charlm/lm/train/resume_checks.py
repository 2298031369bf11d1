"""What a resumed run may not change, and what it changed: the checks ``charlm train --resume``
makes against the checkpoint before it reads a byte of the corpus twice. A setting the checkpoint
fixes (the network's shape, the vocabulary, the data streams, the optimizer's moments, the random
state) is refused by name with what the run has, never silently ignored; a training setting it can
take is listed as a change ("--lr 0.002 -> 0.5")."""

from __future__ import annotations

from ...errors import ConfigError
from ...settings import option_name
from ..config import DataConfig, TrainConfig
from ..options import MODEL_OPTIONS, TRAIN_OPTIONS, TrainOptions


def refuse_fixed_settings(options, meta: dict, level: str) -> None:
    """The network's shape, its precision, its level and what made its vocabulary are the
    checkpoint's (``meta``; ``level``: the run's)."""
    saved_model = meta["model"]
    for name, value in options.given(MODEL_OPTIONS).items():
        if saved_model.get(name) != value:
            raise ConfigError(f"{option_name(name)} cannot change when resuming (the run has {saved_model.get(name)!r})")
    if options.dtype and options.dtype != meta.get("dtype"):
        raise ConfigError(f"--dtype cannot change when resuming (the run has {meta.get('dtype')})")
    saved_corpus = meta.get("corpus", {})
    if options.level and options.level != level:
        raise ConfigError(f"--level cannot change when resuming (the run has {level})")
    for name in ("min_freq", "max_vocab"):  # they made the vocabulary, which the model is built on
        given = getattr(options, name)
        if given is not None and given != saved_corpus.get(name, getattr(DataConfig, name)):
            raise ConfigError(f"{option_name(name)} cannot change when resuming: the run's vocabulary was "
                              f"made with {saved_corpus.get(name, getattr(DataConfig, name))!r}")


# Saved with the run and continued exactly (the optimizer's moments, the random streams, the
# streams' layout): a different value cannot take effect, so it is refused rather than ignored.
FIXED_WHEN_RESUMING = {
    "batch_size": "the data streams are laid out for it",
    "optimizer": "its saved moments belong to that optimizer; start a new run (or --force) to change it",
    "seed": "the random state continues from the checkpoint",
    "positions": "the data cursor and the carried memory belong to it",
    "decay_against": "the saved reference of the plateau rule is that validation",
}


def check_same_data(saved: dict | None, now: dict) -> None:
    """A resumed run continues a data cursor and a carried state that belong to its text: other
    data is refused (checkpoints from before fingerprints were saved are taken on trust)."""
    if saved is None:
        return
    _check_same_files(saved.get("files"), now.get("files"))
    for split, what in (("train", "the training text"), ("val", "the validation text")):
        old, new = saved.get(split), now.get(split)
        if old == new:
            continue
        if old is None or new is None:
            then, here = ("none", f"{new['tokens']:,} tokens") if old is None else (f"{old['tokens']:,} tokens", "none")
        elif old["tokens"] != new["tokens"]:
            then, here = f"{old['tokens']:,} tokens", f"{new['tokens']:,}"
        else:
            then, here = f"{old['tokens']:,} tokens", "as many, with other content"
        raise ConfigError(f"{what} is not the one the run stopped on ({then} then, {here} now): resume with the same "
                          "CORPUS, --val, --val-frac and --encoding, or start a new run (--force or another --out)")


def _check_same_files(saved: list | None, now: list | None) -> None:
    """A corpus of files: name the files that changed, came or went since the run was saved."""
    if saved is None or now is None or saved == now:
        return
    old = {name: (size, digest) for name, size, digest in saved}
    new = {name: (size, digest) for name, size, digest in now}
    changed = [name for name in old if name in new and old[name] != new[name]]
    added = [name for name in new if name not in old]
    removed = [name for name in old if name not in new]
    said = [f"{what}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}" for what, names in
            (("changed", changed), ("new", added), ("gone", removed)) if names] or ["the same files in another order"]
    raise ConfigError(f"the corpus's files are not those the run stopped on ({'; '.join(said)}): resume with the "
                      "same files, or start a new run (--force or another --out)")


def _shown_value(value) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def refuse_fixed_training_options(options: TrainOptions, saved: dict) -> None:
    for name, why in FIXED_WHEN_RESUMING.items():
        given = getattr(options, name)
        had = saved.get(name, getattr(TrainConfig, name))  # a checkpoint from before the field: its default
        if given is not None and given != had:
            raise ConfigError(f"{option_name(name)} cannot change when resuming: the run has {had!r} ({why})")


def changes(options: TrainOptions, saved: dict, config: TrainConfig) -> list[str]:
    """'--lr 0.002 -> 0.5' for every training option given that differs from the saved run's."""
    found = []
    for name in options.given(TRAIN_OPTIONS):
        if name in ("threads", "max_steps", "max_time"):
            continue  # how fast, or where this invocation stops: not a change to the run's settings
        old, new = saved.get(name), getattr(config, name)
        if old != new:
            found.append(f"{option_name(name)} {_shown_value(old)} -> {_shown_value(new)}")
    return found
