"""Finite-difference gradient checking in float64."""

from __future__ import annotations

import numpy as np


def numeric_gradient(f, array: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """d f() / d array by the fourth-order central stencil
    (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h, perturbing ``array`` in place.
    Truncation error O(h^4) ~ 1e-16 and rounding ~ 1e-16 |f| / h: both far below the 1e-6 bar,
    which the plain two-point stencil cannot promise for small gradient entries."""
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


def max_relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> float:
    """max over entries of |a - n| / max(|a|, |n|, floor). The floor only matters for entries
    that are zero to within rounding (e.g. a relu that is off)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float((np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)).max())
