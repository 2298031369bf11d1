"""A small synthetic sentiment treebank for the tree-model tests: random binary trees over filler
words (label 2) and cue words ("great" 4, "good" 3, "poor" 1, "awful" 0); an inner node's label
follows the sum of the cues below it, so the labels are learnable from the composition alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FILLER = [f"w{i}" for i in range(20)]
CUES = {"great": 2, "good": 1, "poor": -1, "awful": -2}
# Small enough to train in a few seconds through the CLI.
TINY = ["--hidden-size", 8, "--batch-size", 20, "--lr", 0.1, "--epochs", 8, "--threads", 1]


def _label(score: int) -> int:
    return 2 + max(-2, min(2, score))


def tree_text(rng: np.random.Generator) -> str:
    words = list(rng.choice(FILLER, int(rng.integers(1, 6))))
    for _ in range(int(rng.integers(1, 3))):
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(list(CUES))))
    # Join neighbours at random until one tree is left: (text, score).
    nodes = [(f"({_label(CUES.get(w, 0))} {w})", CUES.get(w, 0)) for w in words]
    while len(nodes) > 1:
        k = int(rng.integers(0, len(nodes) - 1))
        (a, sa), (b, sb) = nodes[k], nodes[k + 1]
        nodes[k:k + 2] = [(f"({_label(sa + sb)} {a} {b})", sa + sb)]
    return nodes[0][0]


def write_treebank(folder: Path, train: int = 300, dev: int = 80, test: int = 80) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, seed in (("train", train, 1), ("dev", dev, 2), ("test", test, 3)):
        rng = np.random.default_rng(seed)
        (folder / f"{name}.txt").write_text("".join(tree_text(rng) + "\n" for _ in range(n)), encoding="utf-8")
    return folder
