"""A trivially separable labelled set for the classifier tests: each sentence is random filler
words plus one cue word that gives its class ("great" for pos, "awful" for neg), anywhere in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FILLER = [f"w{i}" for i in range(30)]
CUES = {"pos": "great", "neg": "awful"}
# A model small enough to train in about a second through the CLI.
TINY = ["--embed-size", 12, "--hidden-size", 12, "--batch-size", 16, "--lr", 0.02, "--epochs", 6, "--threads", 1]


def sentences(n: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        label = "pos" if rng.integers(2) else "neg"
        words = list(rng.choice(FILLER, int(rng.integers(2, 12))))
        words.insert(int(rng.integers(0, len(words) + 1)), CUES[label])
        out.append((label, " ".join(words)))
    return out


def write_labelled(path: Path, n: int, seed: int) -> Path:
    path.write_text("".join(f"{label}\t{text}\n" for label, text in sentences(n, seed)), encoding="utf-8")
    return path


def write_split_folder(folder: Path, train: int = 300, dev: int = 100, test: int = 100) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, seed in (("train", train, 1), ("dev", dev, 2), ("test", test, 3)):
        if n:
            write_labelled(folder / f"{name}.txt", n, seed)
    return folder


def write_label_folder(folder: Path, n: int = 200) -> Path:
    """MR's layout: one file per class (``data.pos`` / ``data.neg``), one text per line."""
    folder.mkdir(parents=True, exist_ok=True)
    by_label = {"pos": [], "neg": []}
    for label, text in sentences(n, 4):
        by_label[label].append(text)
    for label, texts in by_label.items():
        (folder / f"data.{label}").write_text("".join(t + " \n" for t in texts), encoding="utf-8")  # MR's trailing space
    return folder
