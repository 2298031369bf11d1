"""The float32 tanh, sigmoid and exp used inside kernels are vectorisable approximations: they
must stay within a few float32 ulps of the exact functions; in float64 they are the exact ones."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from charlm.core.kernels import activations as act

ULP1 = float(np.finfo(np.float32).eps)  # 1.19e-7, one ulp at 1.0


@numba.njit(error_model="numpy", fastmath={"contract", "arcp", "nsz", "reassoc"})
def _apply(which, x, out):
    for i in range(x.size):
        if which == 0:
            out[i] = act.tanh(x[i])
        elif which == 1:
            out[i] = act.sigmoid(x[i])
        else:
            out[i] = act.exp(x[i])


def evaluate(which, x):
    out = np.empty_like(x)
    _apply(which, x, out)
    return out


GRID = np.concatenate([np.linspace(-30, 30, 600_001), np.geomspace(1e-8, 30, 10_000), -np.geomspace(1e-8, 30, 10_000)])


@pytest.mark.slow  # 3.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
def test_tanh_float32_within_three_ulps():
    x = GRID.astype(np.float32)
    got = evaluate(0, x).astype(np.float64)
    want = np.tanh(x.astype(np.float64))
    assert np.abs(got - want).max() <= 3 * ULP1
    big = np.abs(want) > 1e-3
    assert (np.abs(got - want)[big] / np.abs(want[big])).max() <= 3 * ULP1
    assert np.abs(got).max() <= 1.0  # never outside [-1, 1], so sigmoid stays in [0, 1]


def test_sigmoid_float32_absolute_error_below_two_ulps_of_one():
    x = GRID.astype(np.float32)
    got = evaluate(1, x).astype(np.float64)
    want = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.abs(got - want).max() <= 2 * ULP1
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_exp_float32_within_two_ulps_relative():
    x = np.linspace(-87, 88, 1_000_001).astype(np.float32)
    got = evaluate(2, x).astype(np.float64)
    want = np.exp(x.astype(np.float64))
    assert (np.abs(got - want) / want).max() <= 2 * ULP1


@pytest.mark.slow  # 0.6 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("which,exact", [(0, np.tanh), (1, lambda v: 1 / (1 + np.exp(-v))), (2, np.exp)])
def test_float64_is_exact(which, exact):
    x = np.linspace(-20, 20, 10_001)
    assert np.abs(evaluate(which, x) - exact(x)).max() <= 4e-16 * max(1.0, np.abs(exact(x)).max())
