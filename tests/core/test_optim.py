"""Clipping and one hand-computed step of each optimizer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from charlm.errors import ConfigError
from charlm.core.optim import Adam, RMSprop, SGD, clip_grad_norm, clip_grad_value, make_optimizer
from charlm.core.params import ParamStore


def store_with(param, grad, dtype=np.float64):
    store = ParamStore({"w": (len(param),)}, dtype)
    store.params["w"][:] = param
    store.grads["w"][:] = grad
    return store


def test_clip_grad_norm_scales_to_the_bound_and_returns_the_old_norm():
    g = np.array([3.0, 4.0, 0.0, 12.0])  # norm 13
    norm = clip_grad_norm(g, 5.0)
    assert norm == 13.0
    assert math.isclose(np.linalg.norm(g), 5.0, rel_tol=1e-6)
    assert np.allclose(g / np.linalg.norm(g), np.array([3, 4, 0, 12]) / 13)


def test_clip_grad_norm_leaves_a_small_gradient_alone():
    g = np.array([0.3, -0.4])
    before = g.copy()
    assert math.isclose(clip_grad_norm(g, 5.0), 0.5)
    assert np.array_equal(g, before)


def test_clip_grad_value_clamps_each_entry():
    g = np.array([-7.0, 0.5, 2.0, -0.1])
    clip_grad_value(g, 1.0)
    assert np.array_equal(g, [-1.0, 0.5, 1.0, -0.1])


def test_sgd_step_by_hand():
    store = store_with([1.0, -2.0], [0.5, -1.0])
    SGD(store, lr=0.1).step()
    assert np.allclose(store.params["w"], [1.0 - 0.05, -2.0 + 0.1], rtol=0, atol=1e-15)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    store = store_with([1.0, -2.0], [0.5, -1.0])
    opt = Adam(store, lr=lr, beta1=b1, beta2=b2, eps=eps)
    opt.step()
    # Step 1: m = 0.1 g, v = 0.001 g^2; bias-corrected m/(1-b1) = g, v/(1-b2) = g^2: a step of lr * sign(g).
    g1 = np.array([0.5, -1.0])
    want = np.array([1.0, -2.0]) - lr * g1 / (np.abs(g1) + eps)
    assert np.allclose(store.params["w"], want, rtol=0, atol=1e-12)
    store.grads["w"][:] = [0.25, 0.0]
    opt.step()
    g2 = np.array([0.25, 0.0])
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    mhat, vhat = m / (1 - b1**2), v / (1 - b2**2)
    want = want - lr * mhat / (np.sqrt(vhat) + eps)
    assert np.allclose(store.params["w"], want, rtol=0, atol=1e-12)
    assert np.allclose(opt.m[:2], m) and np.allclose(opt.v[:2], v)


def test_rmsprop_step_by_hand():
    lr, alpha, eps = 0.01, 0.9, 1e-8
    store = store_with([1.0, -2.0], [0.5, -1.0])
    RMSprop(store, lr=lr, alpha=alpha, eps=eps).step()
    g = np.array([0.5, -1.0])
    sq = (1 - alpha) * g**2
    want = np.array([1.0, -2.0]) - lr * g / (np.sqrt(sq) + eps)
    assert np.allclose(store.params["w"], want, rtol=0, atol=1e-12)


@pytest.mark.slow  # 2.9 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_adagrad_matches_torch_over_several_steps():
    torch = pytest.importorskip("torch", reason="PyTorch (the bench extra) is the reference for Adagrad")
    from charlm.core.optim import Adagrad

    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal(5), rng.standard_normal((4, 5))
    store = store_with(start, grads[0])
    ours = Adagrad(store, lr=0.05)
    weight = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    theirs = torch.optim.Adagrad([weight], lr=0.05, eps=1e-10)
    for g in grads:
        store.grads["w"][...] = g
        ours.step()
        weight.grad = torch.tensor(g, dtype=torch.float64)
        theirs.step()
    np.testing.assert_allclose(store.params["w"], weight.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.total[:5], (grads ** 2).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf")])
def test_impossible_learning_rates_are_refused(lr):
    with pytest.raises(ConfigError):
        make_optimizer("adam", store_with([1.0], [1.0]), lr)


def test_unknown_optimizer_is_refused():
    with pytest.raises(ConfigError, match="adam, sgd|sgd, adam"):
        make_optimizer("lbfgs", store_with([1.0], [1.0]), 0.1)


def test_the_configuration_names_every_optimizer_and_no_other():
    from charlm.core.optim import OPTIMIZERS
    from charlm.core.optimizer_names import OPTIMIZER_NAMES

    assert sorted(OPTIMIZER_NAMES) == sorted(OPTIMIZERS)
