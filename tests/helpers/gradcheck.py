"""Finite-difference gradient checking in float64."""

from __future__ import annotations

import numpy as np


def numeric_gradient(f, array: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """d f() / d array by the fourth-order central stencil
    (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h, perturbing ``array`` in place.
    Truncation error O(h^4) and rounding ~ 1e-16 |f| / h: together a few 1e-13 in absolute terms
    for our losses, a hundred times better than the plain two-point stencil."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        values = []
        for step in (2 * h, h, -h, -2 * h):
            flat[i] = old + step
            values.append(f())
        flat[i] = old
        gflat[i] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h)
    return grad


def max_relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max over entries of |a - n| / max(|a|, |n|, floor), floor = 1e-5 * max|a| over the array.

    The floor is there because finite differences in float64 resolve a gradient only to a few
    1e-13 absolute: an entry 1e5 times smaller than the largest of its array (or exactly zero,
    e.g. the embedding row of a token not in the window) is compared at that scale instead."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    floor = max(1e-5 * float(np.abs(a).max(initial=0.0)), 1e-12)
    return float((np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)).max())


def model_gradient_errors(model, loss, h: float = 3e-3) -> dict[str, float]:
    """max_relative_error of every parameter of ``model`` (a ParamStore in ``model.store``):
    ``loss()`` is called once for the analytic gradient, then by the stencil."""
    loss()
    analytic = model.store.grad.copy()
    numeric = numeric_gradient(loss, model.store.data, h=h)
    return {name: max_relative_error(model.store.view(analytic, name), model.store.view(numeric, name))
            for name in model.store.names()}
