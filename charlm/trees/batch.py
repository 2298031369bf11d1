"""Many trees as one batch, scheduled level by level.

The nodes of all the trees are numbered together; a node's *height* is 0 for a leaf and one more
than its taller child otherwise. All the nodes of one height depend only on lower ones, so a
model computes each height as one batched product over every tree at once, bottom-up, and the
backward pass goes top-down. Within one height every node has its own two children (each node
has one parent), so scattering gradients to the children never writes one row twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .treebank import Tree


@dataclass
class Level:
    nodes: np.ndarray  # (m,) node indices at this height
    left: np.ndarray  # (m,) their left children
    right: np.ndarray


@dataclass
class TreeBatch:
    size: int  # nodes in all
    trees: int
    leaves: np.ndarray  # (n_leaves,) node indices
    words: np.ndarray  # (n_leaves,) token ids of those leaves
    levels: list[Level]  # heights 1, 2, ...: inner nodes
    labels: np.ndarray  # (size,) int64, -1: not scored
    roots: np.ndarray  # (trees,) node index of each tree's root

    @staticmethod
    def from_trees(trees: list[Tree], word_ids: list[np.ndarray]) -> "TreeBatch":
        """``word_ids[k]``: the token id of every node of tree k (ignored for inner nodes)."""
        sizes = np.array([len(t) for t in trees], np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        left = np.concatenate([np.where(t.left >= 0, t.left + o, -1) for t, o in zip(trees, offsets)])
        right = np.concatenate([np.where(t.right >= 0, t.right + o, -1) for t, o in zip(trees, offsets)])
        height = np.concatenate([t.heights() for t in trees])
        ids = np.concatenate(word_ids).astype(np.int64)
        leaves = np.flatnonzero(left < 0)
        levels = []
        order = np.argsort(height, kind="stable")
        bounds = np.searchsorted(height[order], np.arange(1, int(height.max(initial=0)) + 2))
        for h in range(len(bounds) - 1):
            nodes = order[bounds[h]:bounds[h + 1]]
            levels.append(Level(nodes, left[nodes], right[nodes]))
        return TreeBatch(int(sizes.sum()), len(trees), leaves, ids[leaves], levels,
                         np.concatenate([t.labels for t in trees]), offsets + sizes - 1)
