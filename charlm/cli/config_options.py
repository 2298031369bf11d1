"""Typer options read from configuration fields, so that an option is written once: its default
and help in the configuration (``setting(...)``), its type and choices read from the field here,
and the command's typed options object built from what Typer parsed (``options_from``).

    @with_config_options
    def train(..., hidden_size=ConfigOption(ModelConfig, "hidden_size", panel=MODEL), ...): ...
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from ..settings import choices_of, help_text
from .choices import choice_enum, value_of


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _plain_type(cls, name: str):
    """The field's type without its None: ``int | None`` -> int."""
    hint = _hints(cls)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = args[0] if len(args) == 1 else str
    return hint


@functools.lru_cache(maxsize=None)
def _choices_enum(name: str, values: tuple) -> type[Enum]:
    """One enum per set of choices, named after the option (Typer shows the values)."""
    return choice_enum("".join(part.title() for part in name.split("_")), values)


class ConfigOption:
    """The default of a command parameter that is configuration field ``name`` of ``cls``:
    :func:`with_config_options` turns it into an Optional (None: not given) of the field's type,
    or of an enum of its ``choices``, with the field's help line and default. ``flags`` as
    typer.Option takes them (a bool's "--tie-weights/--no-tie-weights"); ``type`` where the
    command line reads the value in another form than the field holds (cutoffs typed as
    "2000,10000"). A default rather than an annotation, so that linters do not read the strings."""

    def __init__(self, cls, name: str, *flags: str, panel: str | None = None, type=None, **extra):
        self.cls, self.name, self.flags, self.panel, self.type, self.extra = cls, name, flags, panel, type, extra

    def annotation(self) -> Any:
        type = self.type
        if type is None:
            choices = choices_of(self.cls, self.name)
            type = _choices_enum(self.name, tuple(choices)) if choices else _plain_type(self.cls, self.name)
        option = typer.Option(*self.flags, help=help_text(self.cls, self.name), rich_help_panel=self.panel, **self.extra)
        return Annotated[Optional[type], option]


def with_config_options(command):
    """Decorate a Typer command whose parameters default to :class:`ConfigOption`: each becomes
    the option it describes, with None as its default."""
    signature = inspect.signature(command)
    parameters = []
    for parameter in signature.parameters.values():
        if isinstance(parameter.default, ConfigOption):
            parameter = parameter.replace(annotation=parameter.default.annotation(), default=None)
        parameters.append(parameter)
    command.__signature__ = signature.replace(parameters=parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters if p.annotation is not inspect.Parameter.empty}
    return command


def plain_values(params: dict) -> dict:
    """What Typer parsed, as plain values: an enum's value, None where nothing was given."""
    return {name: value_of(value) if isinstance(value, Enum) else value for name, value in params.items()}


def options_from(options_class, params: dict, **overrides):
    """The command's typed options object from Typer's parsed parameters (``ctx.params``): every
    parameter whose name is a field of ``options_class``, plain; ``overrides`` win."""
    fields = options_class.__dataclass_fields__
    values = {name: value for name, value in plain_values(params).items() if name in fields}
    values.update(overrides)
    return options_class(**values)

