"""The recursive networks over trees: exact gradients (finite differences, float64) for the
recursive NN, the RNTN (its tensor V included) and the Tree-LSTM (both forget gates), and
batching: many trees scheduled level by level give the loss and gradients of one at a time."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.trees.config import TreeModelConfig
from charlm.trees.batch import TreeBatch
from charlm.trees.models import build_tree_model
from charlm.trees.treebank import fallback_tree, parse_tree
from tests.helpers.gradcheck import max_relative_error, numeric_gradient

MODELS = ["treernn", "rntn", "treelstm"]
# and the recursive NN and the RNTN with tanh on the leaves (CoreNLP's recipe)
VARIANTS = [(m, {}) for m in MODELS] + [(m, {"leaf_tanh": True}) for m in ("treernn", "rntn")]
VARIANT_IDS = [m + ("-leaf-tanh" if o else "") for m, o in VARIANTS]
TREES = [
    "(3 (2 (2 The) (2 Rock)) (4 (3 (2 is) (4 (3 good) (2 fun))) (2 .)))",
    "(1 (0 bad) (2 film))",
    "(4 great)",
    "(2 (2 (2 a) (2 (2 b) (2 c))) (1 (2 (2 d) (2 e)) (0 f)))",
]
VOCAB = {w: i for i, w in enumerate("The Rock is good fun . bad film great a b c d e f".split())}


def batch_of(trees):
    return TreeBatch.from_trees(trees, [np.array([VOCAB.get(w, 0) for w in t.words]) for t in trees])


def make(model, dtype=np.float64, seed=1, **overrides):
    settings = dict(hidden_size=4, dropout=0.0)
    if model == "treelstm":
        settings["embed_size"] = 3
    settings.update(overrides)
    config = TreeModelConfig(model=model, vocab_size=len(VOCAB), num_classes=5, **settings)
    net = build_tree_model(config, dtype, seed)
    rng = np.random.default_rng(seed + 10)
    for name, array in net.params.items():  # away from the small initial values: every term matters
        array += 0.3 * rng.standard_normal(array.shape)
    return net


@pytest.mark.slow  # 3.0 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("model,options", VARIANTS, ids=VARIANT_IDS)
def test_gradients_match_finite_differences(model, options):
    net = make(model, **options)
    batch = batch_of([parse_tree(t) for t in TREES])
    net.train_step(batch)
    analytic = {name: g.copy() for name, g in net.grads.items()}
    for name, array in net.params.items():
        numeric = numeric_gradient(lambda: net.train_step(batch)[0], array)
        assert max_relative_error(analytic[name], numeric) < 1e-6, name


@pytest.mark.parametrize("model,options", VARIANTS, ids=VARIANT_IDS)
def test_a_batch_of_trees_equals_the_trees_one_at_a_time(model, options):
    net = make(model, **options)
    trees = [parse_tree(t) for t in TREES]
    loss, correct, scored = net.train_step(batch_of(trees))
    together = net.store.grad.copy()
    losses, grads, hits, counts = [], [], 0, 0
    for tree in trees:
        one = net.train_step(batch_of([tree]))
        losses.append(one[0]), grads.append(net.store.grad.copy())
        hits, counts = hits + one[1], counts + one[2]
    assert loss == pytest.approx(np.mean(losses), rel=1e-12)
    np.testing.assert_allclose(together, np.mean(grads, axis=0), rtol=1e-10, atol=1e-13)
    assert (correct, scored) == (hits, counts) and scored == sum(len(t) for t in trees)


@pytest.mark.parametrize("model", MODELS)
def test_float32_agrees_with_float64(model):
    batch = batch_of([parse_tree(t) for t in TREES])
    loss64 = make(model, np.float64).train_step(batch)[0]
    loss32 = make(model, np.float32).train_step(batch)[0]
    assert loss32 == pytest.approx(loss64, rel=1e-5)


def test_unscored_nodes_add_nothing_to_the_loss():
    net = make("rntn")
    tree = parse_tree(TREES[0])
    full = net.train_step(batch_of([tree]))
    labels = tree.labels.copy()
    labels[:-1] = -1  # the root alone
    root_only = net.train_step(batch_of([tree.relabelled(labels)]))
    assert root_only[2] == 1 and root_only[0] < full[0]
    logits = net.node_logits(batch_of([tree]))[-1]
    z = logits - logits.max()
    assert root_only[0] == pytest.approx(np.log(np.exp(z).sum()) - z[tree.root_label], rel=1e-12)


def test_leaf_tanh_squashes_the_leaves_only():
    plain, squashed = make("treernn"), make("treernn", leaf_tanh=True)
    batch = batch_of([parse_tree("(3 (2 good) (4 fun))")])
    plain._forward(batch), squashed._forward(batch)
    leaves = batch.leaves
    np.testing.assert_allclose(squashed._p[leaves], np.tanh(plain._p[leaves]), rtol=1e-13)
    assert not np.allclose(squashed._p[leaves], plain._p[leaves])


def test_the_tensor_changes_the_rntn_and_only_it():
    """With V = 0 the RNTN is the recursive NN with the same weights."""
    rnn, rntn = make("treernn"), make("rntn")
    for name, array in rnn.params.items():
        rntn.params[name][...] = array
    rntn.params["compose.tensor"][...] = 0
    batch = batch_of([parse_tree(t) for t in TREES])
    np.testing.assert_allclose(rntn.node_logits(batch), rnn.node_logits(batch), rtol=1e-13)


def test_a_deep_tree_runs_without_recursion():
    words = list(VOCAB) * 200  # 3,000 leaves, right-branching: depth 3,000
    text = "".join(f"(2 (2 {w}) " for w in words[:-1]) + f"(2 {words[-1]})" + ")" * (len(words) - 1)
    tree = parse_tree(text, max_depth=10_000)
    assert len(tree) == 2 * len(words) - 1
    loss, _, scored = make("treelstm").train_step(batch_of([tree]))
    assert np.isfinite(loss) and scored == len(tree)


def test_the_fallback_tree_is_balanced_and_binary():
    tree = fallback_tree("a b c d e".split())
    assert tree.leaves == list("abcde") and len(tree) == 9
    assert int(tree.heights()[-1]) == 3  # ceil(log2 5)
    assert (tree.labels == -1).all()


def _torch_reference(torch, model, net, tree, ids):
    """Node logits and the summed node loss of one tree, computed node by node in PyTorch from the
    same weights (the equations of the papers, written independently of the batched kernels)."""
    P = {name: torch.tensor(array, dtype=torch.float64, requires_grad=True) for name, array in net.params.items()}
    H = net.config.hidden_size
    vectors, cells = [None] * len(tree), [None] * len(tree)
    for n in range(len(tree)):
        leaf = tree.left[n] < 0
        if model == "treelstm":
            if leaf:
                g = P["leaf.weight"] @ P["embedding.weight"][ids[n]] + P["leaf.bias"]
                i, o, u = torch.sigmoid(g[:H]), torch.sigmoid(g[H:2 * H]), torch.tanh(g[2 * H:])
                c = i * u
            else:
                a, b = tree.left[n], tree.right[n]
                g = P["compose.weight"] @ torch.cat((vectors[a], vectors[b])) + P["compose.bias"]
                i, fl, fr, o = (torch.sigmoid(g[k * H:(k + 1) * H]) for k in range(4))
                c = i * torch.tanh(g[4 * H:]) + fl * cells[a] + fr * cells[b]
            vectors[n], cells[n] = o * torch.tanh(c), c
        elif leaf:
            word = P["embedding.weight"][ids[n]]
            vectors[n] = torch.tanh(word) if net.config.leaf_tanh else word
        else:
            x = torch.cat((vectors[tree.left[n]], vectors[tree.right[n]]))
            z = P["compose.weight"] @ x + P["compose.bias"]
            if model == "rntn":
                z = z + torch.einsum("i,kij,j->k", x, P["compose.tensor"], x)
            vectors[n] = torch.tanh(z)
    logits = torch.stack(vectors) @ P["fc.weight"].T + P["fc.bias"]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(tree.labels), reduction="sum")
    loss.backward()
    return logits.detach().numpy(), float(loss.detach()), {name: p.grad.numpy() for name, p in P.items()}


@pytest.mark.parametrize("model,options", VARIANTS, ids=VARIANT_IDS)
def test_the_same_weights_give_pytorchs_outputs_and_gradients_node_by_node(model, options):
    torch = pytest.importorskip("torch", reason="PyTorch (the bench extra) is the reference")
    net = make(model, **options)
    tree = parse_tree(TREES[0])
    batch = batch_of([tree])
    ids = np.array([VOCAB.get(w, 0) for w in tree.words])
    logits, loss, grads = _torch_reference(torch, model, net, tree, ids)
    np.testing.assert_allclose(net.node_logits(batch), logits, rtol=1e-10, atol=1e-12)
    assert net.train_step(batch)[0] == pytest.approx(loss, rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(net.grads[name], grad, rtol=1e-9, atol=1e-12, err_msg=name)
