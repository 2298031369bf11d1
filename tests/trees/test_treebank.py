"""Reading bracketed sentiment trees: structure, the binary task's labels, and one clear line for
every malformed tree."""

from __future__ import annotations


import numpy as np
import pytest

from charlm.trees.batch import TreeBatch
from charlm.supervised.data import looks_like_trees
from charlm.trees.treebank import parse_tree, read_trees, with_classes
from charlm.errors import DataError
from tests.helpers.paths import SHARED_CORPORA

SST_TREES = SHARED_CORPORA / "classification" / "sst-trees"


def test_a_tree_is_flat_in_post_order():
    tree = parse_tree("(3 (2 (2 The) (2 Rock)) (4 rocks))")
    assert tree.words == ["The", "Rock", "", "rocks", ""]
    assert tree.labels.tolist() == [2, 2, 2, 4, 3]
    assert tree.left.tolist() == [-1, -1, 0, -1, 2] and tree.right.tolist() == [-1, -1, 1, -1, 3]
    assert tree.heights().tolist() == [0, 0, 1, 0, 2] and tree.leaves == ["The", "Rock", "rocks"]


@pytest.mark.parametrize("text, fragment", [
    ("", "empty tree"),
    ("(3 (2 a) (2 b)", "unbalanced brackets (1 not closed)"),
    ("(3 (2 a) (2 b)))", "unbalanced brackets (a ')' closes nothing)"),
    ("(3 (2 a) (2 b) (2 c))", "a node with 3 children; trees must be binary"),
    ("(3 (2 a))", "a node with 1 children"),
    ("(x (2 a) (2 b))", "node label 'x' is not an integer"),
    ("(3 (2 a b) (2 c))", "either one word or two children"),
    ("(3 a (2 b))", "cannot have children"),
    ("(3 ())", "every node starts with its label"),
    ("(2 a) (2 b)", "one tree per line"),
    ("the film is good", "is this a plain-text file?"),
])
def test_malformed_trees_are_refused_with_a_reason(text, fragment):
    with pytest.raises(DataError) as caught:
        parse_tree(text, "t.txt line 4")
    message = str(caught.value)
    assert message.startswith("t.txt line 4: ") and fragment in message and "\n" not in message


def test_a_tree_deeper_than_the_limit_is_refused_not_a_recursion_error():
    text = "(2 " * 20_000 + "x" + ")" * 20_000
    with pytest.raises(DataError, match="deeper than 500 nodes"):
        parse_tree(text)


def test_binary_classes_drop_neutral_roots_and_leave_neutral_phrases_unscored(tmp_path):
    path = tmp_path / "trees.txt"
    path.write_text("(3 (2 a) (4 b))\n\n(2 (0 c) (1 d))\n(1 (3 e) (2 f))\n")
    trees = read_trees(path)
    assert len(trees) == 3 and looks_like_trees(path)
    binary = with_classes(trees, 2, str(path))
    assert [t.labels.tolist() for t in binary] == [[-1, 1, 1], [1, -1, 0]]
    with pytest.raises(DataError, match=r"tree 1: label 7 outside the classes 0-4"):
        with_classes([parse_tree("(7 a)")], 5, "x")
    plain = tmp_path / "plain.txt"
    plain.write_text("a plain sentence (with brackets)\n")
    assert not looks_like_trees(plain)


def test_the_batch_schedule_puts_every_node_after_its_children():
    trees = [parse_tree("(3 (2 (2 a) (2 b)) (4 c))"), parse_tree("(1 d)"), parse_tree("(2 (2 e) (1 f))")]
    batch = TreeBatch.from_trees(trees, [np.arange(len(t)) for t in trees])
    assert batch.size == 9 and batch.roots.tolist() == [4, 5, 8]
    done = set(batch.leaves.tolist())
    for level in batch.levels:
        assert set(level.left.tolist()) <= done and set(level.right.tolist()) <= done
        done |= set(level.nodes.tolist())
    assert done == set(range(9)) and [lv.nodes.tolist() for lv in batch.levels] == [[2, 8], [4]]


@pytest.mark.skipif(not SST_TREES.exists(), reason="the Sentiment Treebank's trees are in ../shared only (not in a user's clone)")
def test_the_sentiment_treebank_reads_as_its_readme_counts():
    counts = {"train": (8_544, 318_582), "dev": (1_101, 41_447), "test": (2_210, 82_600)}
    for split, (n_trees, n_nodes) in counts.items():
        trees = read_trees(SST_TREES / f"{split}.txt")
        assert (len(trees), sum(len(t) for t in trees)) == (n_trees, n_nodes)
    assert len(with_classes(read_trees(SST_TREES / "dev.txt"), 2, "dev")) == 872
