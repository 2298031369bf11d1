"""What a tree model loses when it is given plain sentences instead of parse trees.

    python benchmarks/tree_fallback.py runs/rntn ../shared/corpora/classification/sst-trees/test.txt

``charlm classify predict`` gives a plain sentence a balanced binary tree (its words split in halves,
recursively). This measures root accuracy on the test trees as parsed, then on the same sentences
(their leaves joined by spaces) with the fallback trees, through the same ``predict`` path a user
takes, and prints both and the difference.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from charlm.supervised.saved_model import load
    from charlm.trees import session
    from charlm.trees.treebank import read_trees, with_classes

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("trees", type=Path)
    args = parser.parse_args(argv)
    _, snap = load(args.model)
    trees = with_classes(read_trees(args.trees), len(snap.labels), str(args.trees))
    truth = np.array([t.root_label for t in trees])
    lines = args.trees.read_text(encoding="utf-8").splitlines()
    parsed = [line for line in lines if line.strip()]
    if len(snap.labels) == 2:  # the binary task drops the neutral roots: keep the same trees
        parsed = [line for line, t in zip(parsed, read_trees(args.trees)) if t.root_label != 2]
    sentences = [" ".join(t.leaves) for t in trees]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_trees = session.predict(snap, parsed).argmax(axis=1)
        on_sentences = session.predict(snap, sentences).argmax(axis=1)
    a, b = float(np.mean(on_trees == truth)), float(np.mean(on_sentences == truth))
    print(f"{len(trees):,} test sentences, model {args.model}")
    print(f"root accuracy with the treebank's parse trees:  {100 * a:.2f}%")
    print(f"root accuracy with balanced fallback trees:     {100 * b:.2f}%  ({100 * (b - a):+.2f} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
