"""Labelled binary parse trees in PTB bracket style, one per line, as the Sentiment Treebank has
them: ``(3 (2 (2 The) (2 Rock)) (4 ...))``. Every node carries a label; a leaf is ``(label word)``,
an inner node ``(label left right)`` with exactly two children.

A tree is kept flat, in post-order (children before their parent, the root last), so that the
models can compute it bottom-up without recursion: ``left``/``right`` index the children (-1 for
a leaf), ``words`` holds a leaf's token ("" for an inner node). The parser is iterative: a deep
tree is refused at ``MAX_DEPTH`` with a message, never by Python's recursion limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..text.files import read_text

MAX_DEPTH = 500  # nodes from the root to the deepest leaf; the Sentiment Treebank's deepest has 30
# Words are split at ASCII white space only: the treebank has words with a no-break space in them
# ("8\u00a01\\/2").
_TOKEN = re.compile(r"\(|\)|[^ \t\r\n\f\v()]+")
# Binary sentiment (Socher et al. 2013): 0, 1 negative; 3, 4 positive; 2 (neutral) not scored.
BINARY = np.array([0, 0, -1, 1, 1], np.int64)


@dataclass
class Tree:
    labels: np.ndarray  # (n,) int64, one per node, post-order; -1: not scored
    left: np.ndarray  # (n,) int64 child index, -1 for leaves
    right: np.ndarray
    words: list[str]  # (n,) the leaf's token, "" for inner nodes

    def __len__(self) -> int:
        return self.labels.size

    @property
    def root_label(self) -> int:
        return int(self.labels[-1])

    @property
    def leaves(self) -> list[str]:
        return [w for w in self.words if w]

    def heights(self) -> np.ndarray:
        """(n,) 0 for leaves, 1 + the taller child's height for inner nodes."""
        height = np.zeros(len(self), np.int64)
        for n in range(len(self)):  # post-order: children are already done
            if self.left[n] >= 0:
                height[n] = 1 + max(height[self.left[n]], height[self.right[n]])
        return height

    def relabelled(self, labels: np.ndarray) -> "Tree":
        return Tree(labels, self.left, self.right, self.words)


def parse_tree(text: str, where: str = "tree", max_depth: int = MAX_DEPTH) -> Tree:
    """One bracketed tree; DataError naming ``where`` for anything malformed."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise DataError(f"{where}: empty tree")
    if tokens[0] != "(":
        raise DataError(f"{where}: a tree starts with '(' (got {tokens[0][:20]!r}); is this a plain-text file?")
    labels: list[int] = []
    left: list[int] = []
    right: list[int] = []
    words: list[str] = []
    # Each open node: [label, children (node indices), word or None].
    stack: list[list] = []
    i, done = 0, False
    while i < len(tokens):
        token = tokens[i]
        if done and token == ")":
            raise DataError(f"{where}: unbalanced brackets (a ')' closes nothing)")
        if done:
            raise DataError(f"{where}: text after the tree's closing bracket ({token[:20]!r}); one tree per line")
        if token == "(":
            if stack and stack[-1][2] is not None:
                raise DataError(f"{where}: a leaf ({stack[-1][2]!r}) cannot have children")
            if i + 1 >= len(tokens) or tokens[i + 1] in "()":
                raise DataError(f"{where}: every node starts with its label, as in '(3 word)'")
            label = tokens[i + 1]
            if not label.lstrip("-").isdigit():
                raise DataError(f"{where}: node label {label[:20]!r} is not an integer")
            if len(stack) >= max_depth:
                raise DataError(f"{where}: deeper than {max_depth} nodes")
            stack.append([int(label), [], None])
            i += 2
            continue
        if token == ")":
            if not stack:
                raise DataError(f"{where}: unbalanced brackets (a ')' closes nothing)")
            label, children, word = stack.pop()
            if word is not None:
                if children:
                    raise DataError(f"{where}: a leaf ({word!r}) cannot have children")
                kids = (-1, -1)
            elif len(children) == 2:
                kids = tuple(children)
            elif not children:
                raise DataError(f"{where}: a node with neither a word nor children")
            else:
                raise DataError(f"{where}: a node with {len(children)} children; trees must be binary "
                                "(binarise them first, as the Sentiment Treebank's are)")
            labels.append(label)
            left.append(kids[0])
            right.append(kids[1])
            words.append(word or "")
            if stack:
                stack[-1][1].append(len(labels) - 1)
            else:
                done = True
            i += 1
            continue
        # a word
        if not stack:
            raise DataError(f"{where}: a word ({token[:20]!r}) outside any bracket")
        top = stack[-1]
        if top[1] or top[2] is not None:
            raise DataError(f"{where}: a node holds either one word or two children (at {token[:20]!r})")
        top[2] = token
        i += 1
    if stack:
        raise DataError(f"{where}: unbalanced brackets ({len(stack)} not closed)")
    return Tree(np.array(labels, np.int64), np.array(left, np.int64), np.array(right, np.int64), words)


def read_trees(path, encoding: str = "utf-8", max_depth: int = MAX_DEPTH) -> list[Tree]:
    """Every tree of a file, one per non-blank line."""
    path = Path(path)
    trees = []
    for number, line in enumerate(read_text(path, encoding).split("\n"), 1):
        if line.strip():
            trees.append(parse_tree(line, f"{path} line {number}", max_depth))
    if not trees:
        raise DataError(f"{path} holds no trees")
    return trees


def with_classes(trees: list[Tree], classes: int, where: str) -> list[Tree]:
    """The trees for a ``classes``-way task: 5 keeps the labels 0-4; 2 maps them to negative /
    positive (neutral nodes not scored) and drops the trees whose root is neutral. A label
    outside 0-4 is refused, naming the tree."""
    if classes not in (2, 5):
        raise DataError(f"--classes must be 5 (fine-grained) or 2 (binary), got {classes}")
    out = []
    for number, tree in enumerate(trees, 1):
        bad = (tree.labels < 0) | (tree.labels > 4)
        if bad.any():
            raise DataError(f"{where} tree {number}: label {int(tree.labels[bad][0])} outside the classes 0-4")
        if classes == 5:
            out.append(tree)
        elif tree.root_label != 2:
            out.append(tree.relabelled(BINARY[tree.labels]))
    if not out:
        raise DataError(f"{where}: no tree with a non-neutral root for --classes 2")
    return out


def fallback_tree(words: list[str]) -> Tree:
    """A balanced binary tree over ``words`` (for a plain sentence given to a tree model): each
    inner node joins two neighbouring spans of equal size (the left one larger by one)."""
    if not words:
        raise DataError("an empty sentence has no tree")
    labels: list[int] = []
    left: list[int] = []
    right: list[int] = []
    leaf_words: list[str] = []
    # Iterative post-order over spans: (start, end, visited).
    stack = [(0, len(words), False)]
    done: list[int] = []
    while stack:
        start, end, visited = stack.pop()
        if end - start == 1:
            labels.append(-1), left.append(-1), right.append(-1), leaf_words.append(words[start])
            done.append(len(labels) - 1)
            continue
        middle = (start + end + 1) // 2
        if not visited:
            stack.append((start, end, True))
            stack.append((middle, end, False))
            stack.append((start, middle, False))
            continue
        b, a = done.pop(), done.pop()
        labels.append(-1), left.append(a), right.append(b), leaf_words.append("")
        done.append(len(labels) - 1)
    return Tree(np.array(labels, np.int64), np.array(left, np.int64), np.array(right, np.int64), leaf_words)
