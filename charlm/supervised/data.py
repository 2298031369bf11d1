"""What both classifier families do with data: read the texts to classify (one per line, from a
file or standard input), hold out a seeded dev set, and tell a file of bracketed parse trees (the
tree models' data) from label<TAB>text (the sequence classifiers'), so that each family can refuse
the other's with a message that says which models read it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import ConfigError, DataError
from ..text.files import read_text


def read_inputs(text: str, source: str) -> list[str]:
    """The texts to classify: one per line; a line with a TAB is ``label<TAB>text`` and its label
    is ignored (so a labelled file can be given as is). A blank line is an error, not skipped,
    so that output line k always answers input line k."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    texts = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if "\t" in line:
            line = line.split("\t", 1)[1]
        if not line.strip():
            raise DataError(f"{source} line {number} is blank: there is nothing to classify")
        texts.append(line.strip())
    if not texts:
        raise DataError(f"{source} is empty: nothing to classify")
    return texts


def read_texts(file: Path | None, stdin: BinaryIO | None = None) -> tuple[list[str], str]:
    """The texts of FILE (or of the binary stream ``stdin`` for ``-``), one per line (see
    ``read_inputs``)."""
    if file is None or str(file) == "-":
        text = read_text("standard input", stream=stdin)
        return read_inputs(text, "standard input"), "-"
    return read_inputs(read_text(file), str(file)), str(file)


def refuse_dev_frac_with_a_dev_set(path, dev, dev_frac) -> None:
    """--dev-frac holds out part of train only where there is no dev set: with ``dev`` (--dev) or
    a folder's own dev.txt it cannot take effect, and is refused by name."""
    if dev_frac is None:
        return
    own = Path(path) / "dev.txt"
    where = f"--dev {dev}" if dev is not None else (str(own) if Path(path).is_dir() and own.is_file() else None)
    if where is not None:
        raise ConfigError(f"--dev-frac cannot take effect with a dev set ({where}): nothing is held out of train")


def hold_out_index(n: int, frac: float, rng: np.random.Generator, what: str = "examples") -> tuple[np.ndarray, np.ndarray]:
    """(train, dev) indices, sorted: a random ``frac`` of 0..n-1 (at least one) as the dev set."""
    if not (0.0 < frac < 1.0):
        raise ConfigError(f"--dev-frac must be between 0 and 1 (exclusive), got {frac}")
    n_dev = max(1, round(frac * n))
    if n_dev >= n:
        raise DataError(f"{n} {what} are too few to hold out a dev set and still train")
    order = rng.permutation(n)
    return np.sort(order[n_dev:]), np.sort(order[:n_dev])


def looks_like_trees(path, encoding: str = "utf-8") -> bool:
    """Whether a file's first non-blank line is a bracketed tree (a '(' and a label)."""
    for line in read_text(Path(path), encoding).split("\n"):
        if line.strip():
            return re.match(r"\s*\(\s*-?\d+[\s(]", line) is not None
    return False
