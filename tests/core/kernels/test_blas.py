"""numpy's BLAS called from jitted code (kernels/blas.py): the products are right, the binding
is part of the kernel cache key, and without it (another BLAS, or CHARLM_FUSED_BLAS=0) the
layers fall back to the Python time loop and train to the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

from charlm.core import numpy_blas
from charlm.core.kernels import _jit, blas
from charlm.core.kernels.blas import matmul_into

needs_binding = pytest.mark.skipif(not blas.AVAILABLE, reason="numpy's BLAS is not scipy-openblas here: nothing to bind")


@numba.njit
def _product(x, w, out):
    matmul_into(x, w, out)


@needs_binding
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_match_numpy_including_row_strided_views(dtype):
    rng = np.random.default_rng(0)
    big_x, big_w = rng.normal(size=(9, 12)).astype(dtype), rng.normal(size=(7, 10)).astype(dtype)
    x, w = big_x[1:6, 2:9], big_w[:, 1:6]  # rows further apart than their length
    out = np.full((8, 7), np.nan, dtype)[2:7, 1:6]
    _product(x, w, out)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, x @ w, rtol=tol, atol=tol)


@pytest.mark.slow  # 1.1 s warm on 2 cores (measured with --durations): too slow for the inner loop
@needs_binding
def test_shape_mismatch_and_column_strided_arrays_are_refused():
    x, w = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="shapes"):
        _product(x, w, np.zeros((3, 6), np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        _product(np.ones((3, 8), np.float32)[:, ::2], w, np.zeros((3, 5), np.float32))


def test_the_bound_library_is_part_of_the_kernel_cache_key(monkeypatch):
    before = _jit._sources_digest()
    monkeypatch.setattr(numpy_blas, "IDENTITY", numpy_blas.IDENTITY + "-other")
    assert _jit._sources_digest() != before


LOSS_PROBE = """
import json, sys, numpy as np
from charlm.lm.config import ModelConfig
from charlm.core.kernels import blas
from charlm.lm.models.recurrent import RecurrentLanguageModel
out = {"available": blas.AVAILABLE}
for cell in ("lstm", "lstm-peephole", "gru", "rnn-tanh"):
    model = RecurrentLanguageModel(ModelConfig(vocab_size=11, cell=cell, hidden_size=6, layers=2), np.float64)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 11, (5, 3)), rng.integers(0, 11, (5, 3))
    loss, _ = model.train_step(x, y, model.initial_state(3))
    out[cell] = [float(loss), model.store.grad.tolist()]
print(json.dumps(out))
"""


def run_probe(fused: bool) -> dict:
    env = dict(os.environ, CHARLM_FUSED_BLAS="1" if fused else "0")
    proc = subprocess.run([sys.executable, "-c", LOSS_PROBE], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # 2.9 s warm on 2 cores (measured with --durations): too slow for the inner loop
@needs_binding
def test_switched_off_the_python_loop_trains_to_the_same_loss_and_gradient():
    fused, plain = run_probe(True), run_probe(False)
    assert fused.pop("available") is True and plain.pop("available") is False
    for cell in fused:
        assert abs(fused[cell][0] - plain[cell][0]) <= 1e-12
        np.testing.assert_allclose(fused[cell][1], plain[cell][1], rtol=1e-10, atol=1e-13)
