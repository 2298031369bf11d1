"""The table of language-model kinds: ``--model``'s choices, and the entry of each, which holds
everything that differs between them (:class:`protocol.ModelKind`: how to build one, its options,
recipe and refusals, its sampling and beam back-ends, its ONNX graph, its warm-up, how `info` and
`inspect` describe it). A new kind is one module with a ModelKind subclass and one line here.

Entries are named by module path and loaded on first use, so that this table (which the
configuration reads for the names) imports no kind, and no kind's heavy code, until it is asked.
"""

from __future__ import annotations

import functools
import importlib

from ...errors import ConfigError
from ...settings import option_name

# name -> "module:class" below charlm.lm.models; the first is the default (ModelConfig.model).
KINDS = {
    "rnn": "recurrent_kind:RecurrentKind",  # embedding, recurrent layers, decoder
    "memn2n": "memory_kind:MemoryKind",  # the end-to-end memory network of Sukhbaatar et al. 2015
}
DEFAULT_KIND = next(iter(KINDS))


@functools.lru_cache(maxsize=None)
def _load(name: str):
    module, cls = KINDS[name].split(":")
    kind = getattr(importlib.import_module(f"{__package__}.{module}"), cls)()
    kind.name = name
    return kind


def kind_named(name: str):
    """The entry of kind ``name`` (a ModelKind)."""
    if name not in KINDS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(KINDS)}")
    return _load(name)


def kind_of(config):
    """The entry of the kind a ModelConfig describes."""
    return kind_named(config.model)


def build_language_model(config, dtype=None, seed: int = 0):
    """A new model of the kind ``config`` describes, initialised from ``seed``."""
    import numpy as np

    return kind_of(config).build(config, np.float32 if dtype is None else dtype, seed)


def refuse_other_kinds_options(kind, options, model_given: bool) -> None:
    """The options of every other kind, given to a run of ``kind``, refused by name. When the user
    chose ``--model``, the message says they cannot take effect with it; when the kind is the
    default, it says which kind they are for."""
    for other in KINDS:
        if other == kind.name:
            continue
        entry = _load(other)
        given = [name for name in entry.options if getattr(options, name, None) is not None]
        if not given:
            continue
        names = ", ".join(option_name(name) for name in given)
        if model_given:
            of = "it is an option" if len(given) == 1 else "they are options"
            raise ConfigError(f"{names} cannot take effect with --model {kind.name}: {of} of {entry.called}")
        raise ConfigError(f"{names} is for --model {other}")
