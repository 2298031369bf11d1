"""Choices as enums Typer can show and check, built from a configuration's tuple of values (the
cells of ``core/cells.py``, the optimizers of ``core/optimizer_names.py``, a field's ``choices``),
so the option and its check cannot drift. Plain values: ``--help`` never loads Numba."""

from __future__ import annotations

from enum import Enum


def choice_enum(name: str, values) -> type[Enum]:
    """An enum Typer offers, built from a configuration's tuple of values, so the two cannot drift."""
    return Enum(name, {value.replace("-", "_"): value for value in values}, type=str)


def value_of(choice: Enum | None):
    """The plain value of a choice the command line parsed (None: not given)."""
    return None if choice is None else choice.value
