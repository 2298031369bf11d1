"""The choices the command line offers, as enums Typer can show and check. Shared by ``charlm``
and ``charlm classify``; plain values, so ``--help`` never loads Numba (tests check that the cell
list matches ``charlm.core.recurrent.CELLS``)."""

from __future__ import annotations

from enum import Enum


class Level(str, Enum):
    char = "char"
    word = "word"


class CellName(str, Enum):
    lstm = "lstm"
    gru = "gru"
    rnn_tanh = "rnn-tanh"
    rnn_relu = "rnn-relu"
    lstm_peephole = "lstm-peephole"
    lstm_coupled = "lstm-coupled"


class OptimizerName(str, Enum):
    adam = "adam"
    sgd = "sgd"
    rmsprop = "rmsprop"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"
