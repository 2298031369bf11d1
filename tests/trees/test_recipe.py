"""CoreNLP's training recipe for the recursive NN and the RNTN (trees/recipe.py): its
starting point, its L2 weights by parameter group, and AdaGrad's eps and per-epoch reset."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.supervised.config import FitConfig
from charlm.trees import recipe as tree_recipe
from charlm.trees.config import TreeModelConfig
from charlm.trees.models import build_tree_model
from charlm.trees.train import EncodedTrees, TreeTrainer
from charlm.trees.treebank import parse_tree

H = 6


def rntn():
    return build_tree_model(TreeModelConfig(model="rntn", vocab_size=50, num_classes=5, hidden_size=H), np.float64)


def test_the_composition_starts_as_the_sum_of_the_children():
    model = rntn()
    tree_recipe.corenlp_initialize(model.params, np.random.default_rng(0))
    W, V = model.params["compose.weight"], model.params["compose.tensor"]
    noise = 1 / (2 * np.sqrt(H))
    for half in (W[:, :H], W[:, H:]):
        assert np.abs(half - np.eye(H)).max() <= noise and np.abs(half - np.eye(H)).max() > noise / 2
    assert not model.params["compose.bias"].any()
    assert 0 < np.abs(V).max() <= 1 / (4 * H)
    assert model.params["embedding.weight"].std() == pytest.approx(0.1, rel=0.15)


def test_l2_weights_by_group():
    params = rntn().params
    corenlp = tree_recipe.l2_weights("corenlp", params, 0.5)
    assert corenlp == {"embedding.weight": 1e-4, "compose.weight": 1e-3, "compose.bias": 1e-3,
                       "compose.tensor": 1e-3, "fc.weight": 1e-4}
    assert tree_recipe.l2_weights("charlm", params, 0.5) == {
        "embedding.weight": 0.5, "compose.weight": 0.5, "compose.tensor": 0.5, "fc.weight": 0.5}
    assert tree_recipe.l2_weights("charlm", params, 0.0) == {}


def _trainer(l2=None, **kwargs):
    model = rntn()
    trees = [parse_tree("(3 (2 a) (4 b))"), parse_tree("(1 (0 c) (2 d))")]
    data = EncodedTrees(trees, [np.array([0, 1, 2]), np.array([0, 3, 4])])
    fit = FitConfig(optimizer="adagrad", lr=0.01, batch_size=1, epochs=1, patience=None)
    return TreeTrainer(model, fit, data, data, l2, **kwargs)


def test_adagrad_eps_is_the_recipes_and_its_sums_reset_every_epoch():
    reset, kept = _trainer(adagrad_eps=1e-3, reset_adagrad=True), _trainer()
    assert reset.optimizer.eps == 1e-3 and kept.optimizer.eps == 1e-10
    for trainer in (reset, kept):
        trainer.optimizer.total[:] = 1e6
        trainer._train_epoch()
    assert reset.optimizer.total.max() < 1e3 and reset.optimizer.total.max() > 0
    assert kept.optimizer.total.min() >= 1e6


def test_the_l2_gradient_is_its_weight_times_the_parameter():
    plain, weighted = _trainer(), _trainer({"fc.weight": 0.25})
    for trainer in (plain, weighted):
        trainer._forward_backward(np.array([0]))
    penalty = weighted.model.store.grad - plain.model.store.grad
    expected = np.zeros_like(penalty)
    weighted.model.store.grad[:] = 0
    weighted.model.grads["fc.weight"][...] = 0.25 * weighted.model.params["fc.weight"]
    expected[:] = weighted.model.store.grad
    np.testing.assert_allclose(penalty, expected, rtol=1e-10, atol=1e-15)
    assert np.abs(penalty).max() > 0
