"""The fused softmax cross-entropy kernels (core/kernels/softmax.py) against a float64 reference,
for rows in each regime: ordinary logits (taken unshifted), logits large enough that the unshifted
exponentials overflow, and rows whose every logit is so negative that they underflow (both redone
shifted by the row maximum), and masked rows."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.core.kernels import softmax as softmax_k

V = 300


def reference(logits, bias, targets, scale):
    z = logits.astype(np.float64) + bias
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    scored = targets >= 0
    rows = np.flatnonzero(scored)
    loss = -log_p[rows, targets[rows]].sum()
    grad = np.exp(log_p)
    grad[rows, targets[rows]] -= 1
    grad[~scored] = 0
    return loss, scale * grad


@pytest.mark.parametrize("offset", [0.0, 75.0, 500.0, -80.0, -500.0],
                         ids=["ordinary", "overflows", "far-overflows", "underflows", "far-underflows"])
def test_every_regime_matches_the_float64_reference(offset):
    rng = np.random.default_rng(1)
    logits = (3 * rng.standard_normal((6, V))).astype(np.float32)
    logits[2:4] += offset  # rows 2 and 3 in the regime; the others ordinary
    bias = rng.standard_normal(V).astype(np.float32)
    targets = np.array([0, 5, 7, 299, -1, 42], np.int32)
    expected_loss, expected_grad = reference(logits, bias, targets, 0.25)
    grad, dbias = logits.copy(), np.zeros(V, np.float32)
    loss = softmax_k.softmax_cross_entropy(grad, bias, targets, 0.25, dbias)
    assert np.isfinite(loss)
    assert loss == pytest.approx(expected_loss, rel=2e-6)
    np.testing.assert_allclose(grad, expected_grad, atol=2e-7)
    np.testing.assert_allclose(dbias, expected_grad.sum(axis=0), atol=1e-6)
    assert softmax_k.cross_entropy(logits, bias, targets) == pytest.approx(expected_loss, rel=2e-6)


def test_the_unshifted_sum_stays_within_the_range_where_it_is_exact():
    """The bounds say when exponentials can be summed unshifted: inside them no exp overflows
    float32 and the largest terms are normal numbers."""
    f32 = np.finfo(np.float32)
    assert softmax_k.SUM_HIGH * 1e3 < f32.max and softmax_k.SUM_LOW * 1e-3 > f32.tiny
