"""Labelled text on disk: ``label<TAB>text`` files, split folders and one-file-per-label folders.

Three layouts are read (``load_splits``):

- a file of ``label<TAB>text`` lines: the training set (a dev set is held out of it);
- a folder with ``train.txt`` and optionally ``dev.txt`` and ``test.txt``, each ``label<TAB>text``
  (SST-2, SST-5);
- a folder without ``train.txt`` whose files each hold one class, one text per line, the label
  given by the name: ``*.pos`` / ``*.neg`` give ``pos`` / ``neg`` (MR's ``rt-polarity.pos``),
  ``<label>.txt`` gives ``<label>``. Such a set has no split: hold out a dev set, or use ``--folds``.

Whitespace-only lines are skipped; label and text are stripped (MR's lines end with a space).
Every other oddity (no TAB, an empty label or text, bad bytes) is a DataError naming file and line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..text.files import read_text

SPLIT_NAMES = ("train", "dev", "test")
SUFFIX_LABELS = (".pos", ".neg")  # MR's file names: the suffix is the label


@dataclass
class Labelled:
    """Texts with their labels, and where each came from (for error messages)."""

    texts: list[str]
    labels: list[str]
    origins: list[str] = field(default_factory=list)  # "path line N", one per example

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> "Labelled":
        index = [int(i) for i in index]
        return Labelled([self.texts[i] for i in index], [self.labels[i] for i in index],
                        [self.origins[i] for i in index] if self.origins else [])

    @staticmethod
    def join(parts: list["Labelled"]) -> "Labelled":
        return Labelled([t for p in parts for t in p.texts], [lb for p in parts for lb in p.labels],
                        [o for p in parts for o in p.origins])


@dataclass
class Splits:
    train: Labelled
    dev: Labelled | None
    test: Labelled | None
    dev_source: str  # "dev.txt", or "10% of train held out (seed 0)": said in the summary


# ------------------------------------------------------------------------------------ reading
def _lines(path: Path, encoding: str):
    """(line number, line) for the non-blank lines of a validated text file."""
    for number, line in enumerate(read_text(path, encoding).split("\n"), 1):
        if line.strip():
            yield number, line.rstrip("\r")


def read_labelled(path, encoding: str = "utf-8") -> Labelled:
    """A ``label<TAB>text`` file (the first TAB separates; the text may hold more)."""
    path = Path(path)
    data = Labelled([], [], [])
    for number, line in _lines(path, encoding):
        label, tab, text = line.partition("\t")
        if not tab:
            raise DataError(f"{path} line {number}: no TAB between label and text (each line must be label<TAB>text)")
        label, text = label.strip(), text.strip()
        if not label:
            raise DataError(f"{path} line {number}: empty label before the TAB")
        if not text:
            raise DataError(f"{path} line {number}: empty text after the label {label!r}")
        data.texts.append(text)
        data.labels.append(label)
        data.origins.append(f"{path} line {number}")
    if not data.texts:
        raise DataError(f"{path} holds no labelled lines")
    return data


def label_of_file(path: Path) -> str | None:
    """The class a one-label-per-file folder's file holds, or None if its name does not say."""
    if path.suffix in SUFFIX_LABELS:
        return path.suffix[1:]
    if path.suffix == ".txt" and path.stem:
        return path.stem
    return None


def read_label_folder(folder: Path, encoding: str = "utf-8") -> Labelled:
    """Every file of ``folder`` is one class, one text per line (see the module docstring)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError(f"{folder} holds no files: give a label<TAB>text file or a folder with train.txt")
    parts = []
    for path in files:
        label = label_of_file(path)
        if label is None:
            raise DataError(
                f"{folder}: cannot tell the label of {path.name} (name each file <label>.txt or *.pos / *.neg, "
                "or give a label<TAB>text file)"
            )
        part = Labelled([], [], [])
        for number, line in _lines(path, encoding):
            part.texts.append(line.strip())
            part.labels.append(label)
            part.origins.append(f"{path} line {number}")
        parts.append(part)
    return Labelled.join(parts)


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


# ------------------------------------------------------------------------------------ splits
def load_splits(path, *, dev=None, test=None, dev_frac: float | None = 0.1, seed: int = 0, encoding: str = "utf-8") -> Splits:
    """The train/dev/test sets of ``path`` (see the module docstring). ``dev`` / ``test`` files
    replace the folder's own; with no dev set, ``dev_frac`` of train is held out (seeded), or with
    ``dev_frac=None`` none is (the dev set is then None)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    own = {}
    if path.is_dir():
        present = {name: path / f"{name}.txt" for name in SPLIT_NAMES if (path / f"{name}.txt").is_file()}
        if "train" in present:
            own = {name: read_labelled(p, encoding) for name, p in present.items()}
        elif present:
            raise DataError(
                f"{path} has {' and '.join(p.name for p in present.values())} but no train.txt; "
                f"to train on one of them give that file, e.g. {present[next(iter(present))]}"
            )
        else:
            own = {"train": read_label_folder(path, encoding)}
    else:
        own = {"train": read_labelled(path, encoding)}
    if dev is not None:
        own["dev"] = read_labelled(dev, encoding)
    if test is not None:
        own["test"] = read_labelled(test, encoding)
    train = own["train"]
    if "dev" in own:
        return Splits(train, own["dev"], own.get("test"), str(dev if dev is not None else path / "dev.txt"))
    if dev_frac is None:
        return Splits(train, None, own.get("test"), "")
    train, held_out = hold_out(train, dev_frac, np.random.default_rng([seed, 7]))
    return Splits(train, held_out, own.get("test"), f"{dev_frac:g} of train held out (seed {seed})")


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


def hold_out(data: Labelled, frac: float, rng: np.random.Generator) -> tuple[Labelled, Labelled]:
    """A random ``frac`` of ``data`` as a dev set (at least one example), the rest as train."""
    train, dev = hold_out_index(len(data), frac, rng)
    return data.subset(train), data.subset(dev)


def folds(n: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """K disjoint test folds covering 0..n-1 (a seeded permutation cut into near-equal parts)."""
    if k < 2:
        raise ConfigError(f"--folds must be at least 2, got {k}")
    if k > n:
        raise ConfigError(f"--folds {k} is more than the {n} examples")
    return [np.sort(part) for part in np.array_split(rng.permutation(n), k)]


# ------------------------------------------------------------------------------------ labels
def label_order(labels) -> list[str]:
    """The distinct labels, numbers in numeric order ("2" before "10"), then the rest as strings."""
    def key(label: str):
        try:
            value = float(label)
            return (0, value if math.isfinite(value) else 0.0, label)
        except ValueError:
            return (1, 0.0, label)

    return sorted(set(labels), key=key)


def label_ids(data: Labelled, labels: list[str], role: str) -> np.ndarray:
    """Each example's class id; a label the model was not trained on is a DataError saying where."""
    index = {label: i for i, label in enumerate(labels)}
    ids = np.empty(len(data), np.int64)
    for i, label in enumerate(data.labels):
        found = index.get(label)
        if found is None:
            where = data.origins[i] if data.origins else f"{role} example {i + 1}"
            shown = ", ".join(labels[:10]) + (" ..." if len(labels) > 10 else "")
            raise DataError(f"{where}: label {label!r} was not seen in training (known labels: {shown})")
        ids[i] = found
    return ids
