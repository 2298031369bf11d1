"""The choices the command line offers, as enums Typer can show and check. Shared by ``charlm``
and ``charlm classify``; plain values, so ``--help`` never loads Numba. The cells come from the
one cell table, ``core/cells.py``."""

from __future__ import annotations

from enum import Enum

from ..core.cells import CELLS
from ..core.optimizer_names import OPTIMIZER_NAMES


def choice_enum(name: str, values) -> type[Enum]:
    """An enum Typer offers, built from a configuration's tuple of values, so the two cannot drift."""
    return Enum(name, {value.replace("-", "_"): value for value in values}, type=str)


def value_of(choice: Enum | None):
    """The plain value of a choice the command line parsed (None: not given)."""
    return None if choice is None else choice.value


class Level(str, Enum):
    char = "char"
    word = "word"




# Built from the cell table, so a new cell is offered everywhere at once.
CellName = choice_enum("CellName", CELLS)


OptimizerName = choice_enum("OptimizerName", OPTIMIZER_NAMES)


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"
