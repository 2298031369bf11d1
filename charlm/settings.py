"""Typed settings: the machinery every configuration of charlm is written with (the language
models' ``lm/config.py``, the classifiers' ``classify/config.py``), below both, so that neither
imports the other for it. Plain standard library: the command line's ``--help`` loads this and
never Numba.

A setting is a dataclass field written once, with its default and its help line
(:func:`setting`); what the command line shows (:func:`help_text`), the typed object a command
builds from what the user gave (:func:`options_class`), and what "0" means for a setting that can
be off (``zero=``) are all read from that one field.
"""

from __future__ import annotations

import contextvars
import dataclasses
import operator
import types
import typing
from contextlib import contextmanager
from dataclasses import MISSING, asdict, field, fields
from typing import Any

from .errors import ConfigError

# What a 0 given for a setting whose ``zero`` says so means: the setting's None, the feature off.
ZERO_MEANINGS = ("off", "never")


def setting(default, help: str, *, shown: str | None = None, choices: tuple | None = None, zero: str | None = None):
    """A configuration field with its one-line help, which the command line shows with the default.

    ``shown``: how a default computed elsewhere reads (e.g. "the hidden size"); ``choices``: the
    values allowed (the command line offers exactly these); ``zero``: "off" or "never" for a
    setting whose None turns a feature off, so that a 0 given for it means None in every command
    (``--clip-norm 0``: no clipping; ``--patience 0``: never stop early)."""
    if zero is not None and zero not in ZERO_MEANINGS:
        raise ValueError(f"zero must be one of {ZERO_MEANINGS}, got {zero!r}")
    return field(default=default, metadata={"help": help, "shown": shown, "choices": choices, "zero": zero})


def is_option(spec: dataclasses.Field) -> bool:
    """A field the user sets (it has a help line); the others (vocab_size, log_every...) are not."""
    return bool(spec.metadata.get("help"))


def option_fields(cls) -> tuple[str, ...]:
    """The names of the fields of ``cls`` that are options, in their order."""
    return tuple(f.name for f in fields(cls) if is_option(f))


def help_text(cls, name: str) -> str:
    """The ``--help`` line of field ``name`` of ``cls``: its help and the default the code uses."""
    spec = {f.name: f for f in fields(cls)}[name]
    shown = spec.metadata.get("shown") or _shown(spec.default)
    help = spec.metadata["help"]
    return f"{help} \\[default: {shown}]" if shown is not None else help


def choices_of(cls, name: str) -> tuple | None:
    return {f.name: f for f in fields(cls)}[name].metadata.get("choices")


def _shown(value) -> str | None:
    if value is None or value is MISSING:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# A random seed, in every command that takes one (train, sample, classify train): a whole number
# in this range, numpy's classic 32-bit seed, said in the option's help and checked by check_seed.
SEED_RANGE = (0, 2**32 - 1)


def seed_setting(default, what: str):
    """The ``seed`` field of a configuration: its help says what it seeds and the range."""
    return setting(default, f"Random seed, {SEED_RANGE[0]} to {SEED_RANGE[1]} ({what}).")


def check_seed(value, name: str = "--seed") -> int:
    """``value`` as a seed within SEED_RANGE; ConfigError naming ``name`` otherwise."""
    low, high = SEED_RANGE
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # an int, or numpy's
    except TypeError:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return number


# Settings that are no command-line option: an error names them in words, never as an option.
NOT_OPTIONS = {"vocab_size": "the vocabulary size", "num_classes": "the number of classes"}


# Set while settings a file holds are checked (saved_settings): a message then names a setting as
# the file does (hidden_size), not as the command line's option the user did not give.
_SAVED = contextvars.ContextVar("saved_settings", default=False)


def option_name(field_name: str) -> str:
    """``--hidden-size`` for a field that is an option; words for one that is not; the field's own
    name while a checkpoint's settings are being checked (:func:`saved_settings`)."""
    if _SAVED.get():
        return field_name
    return NOT_OPTIONS.get(field_name) or f"--{field_name.replace('_', '-')}"


@contextmanager
def saved_settings():
    """Within it, errors name settings by their field, as a checkpoint's metadata holds them."""
    token = _SAVED.set(True)
    try:
        yield
    finally:
        _SAVED.reset(token)


def check_types(cls, data, where: str) -> None:
    """Refuse ``data`` (JSON read from a file) unless it is an object whose keys are fields of the
    dataclass ``cls`` and whose values have their fields' types; the ConfigError names ``where``,
    the field and what it should be. Required fields must be there; the others may be left out."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be an object, not {_json_kind(data)}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where} has unknown settings: {', '.join(unknown)}")
    missing = [name for name, f in known.items() if f.default is MISSING and f.default_factory is MISSING and name not in data]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    for name, value in data.items():
        if not _has_type(value, hints[name]):
            raise ConfigError(f"{where}: {name} must be {_type_words(hints[name])}, not {_json_kind(value)} {value!r:.60}")


def _has_type(value, hint) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in args)
    if origin is list:
        return isinstance(value, list) and all(_has_type(item, args[0]) for item in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # JSON writes 2.0 as 2.0, but a number written by hand may be an integer
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # Any, or a type this checker does not describe: the class's own checks judge it


_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}


def _type_words(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_words(arg) for arg in args)
    if origin is list:
        return f"a list of {_type_words(args[0]).removeprefix('an ').removeprefix('a ')}s"
    return _WORDS.get(hint, str(hint))


def _json_kind(value) -> str:
    """What JSON value ``value`` is, in words."""
    if value is None:
        return "null"
    for kind, words in ((bool, "true/false"), (int, "an integer"), (float, "a number"), (str, "a string"),
                        (list, "a list"), (dict, "an object")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


def zero_means_none(cls, values: dict) -> dict:
    """``values`` with a 0 given for a setting of ``cls`` whose 0 means "off" or "never" turned
    into that setting's None (a copy; other values untouched)."""
    off = {f.name for f in fields(cls) if f.metadata.get("zero")}
    return {name: None if name in off and value == 0 and not isinstance(value, bool) else value
            for name, value in values.items()}


class Settings:
    """Base of a configuration dataclass: its JSON form, and 0 for an "off" setting read as None."""

    def to_dict(self) -> dict:
        return asdict(self)

    def _zero_means_none(self) -> None:
        """Call first in ``__post_init__``."""
        for name, value in zero_means_none(type(self), {f.name: getattr(self, f.name) for f in fields(self)}).items():
            setattr(self, name, value)


class StrictSettings(Settings):
    """A model's settings: loading refuses keys it does not know (a checkpoint from a newer charlm
    must not half-load)."""

    @classmethod
    def from_dict(cls, data: dict, where: str = "model settings"):
        """The settings ``data`` holds, every field type-checked (:func:`check_types`) before the
        class's own checks."""
        check_types(cls, data, where)
        return cls(**data)


class GivenOptions:
    """What a command was told, one field per option: None is "not given"."""

    def given(self, names) -> dict:
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def options_class(name: str, command: type, *configs: type, doc: str | None = None) -> type:
    """A dataclass of what a command was told: the fields of ``command`` (a dataclass of what only
    the command has: its paths, its switches), then one field per option of each configuration
    class in ``configs``, each None ("not given") unless set. Derived, so that an option added to a
    configuration is an option of the command's typed object at once, with no list to keep."""
    own = {f.name for f in fields(command)}
    extra: list[tuple[str, Any, Any]] = []
    for config in configs:
        for spec in fields(config):
            if is_option(spec) and spec.name not in own and spec.name not in {n for n, _, _ in extra}:
                extra.append((spec.name, Any, field(default=None)))
    derived = dataclasses.make_dataclass(name, extra, bases=(command,))
    derived.__doc__ = doc or command.__doc__
    derived.__module__ = command.__module__
    return derived
