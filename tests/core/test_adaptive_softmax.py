"""The adaptive softmax layer (core/adaptive_softmax.py): a proper distribution over the whole
vocabulary, a loss that is its negative log-likelihood, exact gradients (finite differences,
float64), PyTorch's nn.AdaptiveLogSoftmaxWithLoss given the same weights, and clear errors for
cutoffs that cannot work."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.core import adaptive_softmax as adaptive
from charlm.errors import ConfigError
from tests.helpers.gradcheck import max_relative_error, numeric_gradient

V, H, CUTOFFS, DIV = 40, 8, [10, 25], 2.0


def make(dtype=np.float64, seed=0):
    shapes = adaptive.param_shapes(H, V, CUTOFFS, DIV)
    rng = np.random.default_rng(seed)
    params = {name: rng.normal(0, 0.5, shape).astype(dtype) for name, shape in shapes.items()}
    grads = {name: np.zeros(shape, dtype) for name, shape in shapes.items()}
    return adaptive.AdaptiveSoftmax(V, CUTOFFS, params, grads)


def data(dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (12, H)).astype(dtype)
    targets = np.array([0, 3, 9, 10, 11, 24, 25, 30, 39, -1, 5, 26], np.int32)  # every region, one masked
    return x, targets


def test_the_shapes_are_pytorchs():
    shapes = adaptive.param_shapes(H, V, CUTOFFS, DIV)
    assert shapes == {"head.weight": (12, 8), "tail.0.0.weight": (4, 8), "tail.0.1.weight": (15, 4),
                      "tail.1.0.weight": (2, 8), "tail.1.1.weight": (15, 2)}


def test_the_probabilities_over_the_whole_vocabulary_sum_to_one():
    layer = make()
    x, _ = data()
    probs = np.exp(layer.log_probs(x))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    assert (probs > 0).all()


def test_the_loss_is_the_negative_log_likelihood_of_the_targets():
    layer = make()
    x, targets = data()
    log_p = layer.log_probs(x)
    scored = targets >= 0
    expected = -log_p[np.flatnonzero(scored), targets[scored]].sum()
    assert layer.loss(x, targets) == pytest.approx(expected, rel=1e-12)
    assert layer.loss_and_grad(x, targets, 1.0)[0] == pytest.approx(expected, rel=1e-12)


def test_gradients_match_finite_differences():
    layer = make()
    x, targets = data()
    scale = 0.3
    _, dx = layer.loss_and_grad(x, targets, scale)
    analytic = {name: grad.copy() for name, grad in layer.grads.items()}
    for name, array in layer.params.items():
        numeric = numeric_gradient(lambda: scale * layer.loss(x, targets), array)
        assert max_relative_error(analytic[name], numeric) < 1e-6, name
    numeric = numeric_gradient(lambda: scale * layer.loss(x, targets), x)
    assert max_relative_error(dx, numeric) < 1e-6
    assert not dx[targets < 0].any()  # a masked row has no gradient


def test_a_cluster_no_target_falls_in_gets_a_zero_gradient():
    layer = make()
    x, _ = data()
    for grad in layer.grads.values():
        grad[...] = 7.0
    layer.loss_and_grad(x, np.array([1, 2, 12] * 4, np.int32), 1.0)  # nothing in the second cluster
    assert not layer.grads["tail.1.0.weight"].any() and not layer.grads["tail.1.1.weight"].any()
    assert layer.grads["tail.0.1.weight"].any()


def test_float32_agrees_with_float64():
    x, targets = data()
    loss64 = make(np.float64).loss(x, targets)
    loss32 = make(np.float32).loss(x.astype(np.float32), targets)
    assert loss32 == pytest.approx(loss64, rel=1e-5)


def test_the_same_weights_give_pytorchs_outputs_and_gradients():
    torch = pytest.importorskip("torch", reason="PyTorch (the bench extra) is the reference")
    layer = make()
    x, targets = data()
    keep = targets >= 0  # PyTorch's layer has no masking
    reference = torch.nn.AdaptiveLogSoftmaxWithLoss(H, V, CUTOFFS, div_value=DIV, head_bias=False).double()
    with torch.no_grad():
        for name, parameter in reference.named_parameters():
            parameter.copy_(torch.from_numpy(layer.params[name]))
    tx = torch.from_numpy(x[keep]).requires_grad_()
    result = reference(tx, torch.from_numpy(targets[keep].astype(np.int64)))
    result.loss.backward()
    n = int(keep.sum())
    loss, dx = layer.loss_and_grad(x, targets, 1.0 / n)
    assert loss / n == pytest.approx(float(result.loss.detach()), rel=1e-12)
    np.testing.assert_allclose(layer.log_probs(x[keep]), reference.log_prob(tx).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx[keep], tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    for name, parameter in reference.named_parameters():
        np.testing.assert_allclose(layer.grads[name], parameter.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("cutoffs, div, fragment", [
    ([25, 10], 2.0, "must be positive and increasing"),
    ([10, 10], 2.0, "must be positive and increasing"),
    ([0, 10], 2.0, "must be positive and increasing"),
    ([10, 40], 2.0, "must stay below the vocabulary size (40 words)"),
    ([], 2.0, "needs at least one value"),
    ([10, 25], 0.5, "--tail-div must be at least 1"),
    ([10, 25], 4.0, "leaves the last cluster's projection of 8 units empty"),
])
def test_cutoffs_that_cannot_work_are_refused(cutoffs, div, fragment):
    with pytest.raises(ConfigError) as error:
        adaptive.check_cutoffs(cutoffs, V, H, div)
    assert fragment in str(error.value)
    assert adaptive.check_cutoffs(CUTOFFS, V, H, DIV) == CUTOFFS
