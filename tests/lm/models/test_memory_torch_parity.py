"""charlm's memory network language model (lm/models/memory.py) against the same model written in
PyTorch (benchmarks/memn2n_reference.py), in float64 with the same weights: the memories a
window builds, the loss, and every parameter's gradient against autograd's. Skipped when torch
is not installed (a benchmark/parity extra, never a runtime dependency: pip install -e '.[bench]')."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.helpers.paths import REPO

torch = pytest.importorskip("torch", reason="PyTorch not installed: install the 'bench' extra for parity tests")

sys.path.insert(0, str(REPO / "benchmarks"))  # the reference lives with the benchmark that times it
from memn2n_reference import TorchMemN2N, load_charlm_params, window_contexts  # noqa: E402

from charlm.lm.config import ModelConfig  # noqa: E402
from charlm.lm.models.memory import MemoryLanguageModel  # noqa: E402

V, D, M, T, N = 17, 6, 4, 5, 3
# Every weight scaled up from the recipe's N(0, 0.05^2): at x4 a full memory's largest attention
# is still ~0.27 against the uniform 0.25; at x10 it reaches ~0.6 by the third hop.
SCALE = 10


def make(hops, linear_units):
    config = ModelConfig(vocab_size=V, model="memn2n", hidden_size=D, memory=M, hops=hops, linear_units=linear_units)
    ours = MemoryLanguageModel(config, np.float64, seed=0)
    for array in ours.params.values():
        array *= SCALE
    theirs = TorchMemN2N(V, D, M, hops, linear_units, dtype=torch.float64)
    load_charlm_params(theirs, ours.params)
    return ours, theirs


def window(seed=0):
    """A masked target, carried memories full, empty and partial, and a document starting in
    row 0 at step 2 (so that row forgets both its carried memory and steps 0-1)."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    y[2, 1] = -1
    carried = np.array([[3, 1, -1, -1], [-1, -1, -1, -1], [5, 6, 7, 8]])
    return x, y, [(carried,)], [(2, np.array([0]))]


def rel_err(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))


@pytest.mark.parametrize("hops, linear_units", [(1, None), (3, None), (2, 0), (2, D)])
def test_loss_and_gradients_match_autograd(hops, linear_units):
    ours, theirs = make(hops, linear_units)
    x, y, state, resets = window()

    # The memories: charlm's kernel against the reference's own reading of the same rules.
    ctx, carried = window_contexts(x, state[0][0], resets)
    _, new_state, saved = ours._forward(x, state, resets)
    np.testing.assert_array_equal(saved["ctx"], ctx)
    np.testing.assert_array_equal(new_state[0][0], carried)
    assert (ctx[:N] >= 0).sum(1).tolist() == [3, 1, 4]  # partial, then empty, full carried memories
    assert (ctx[2 * N] >= 0).sum() == 1  # the document start forgets everything before it

    loss, _ = ours.train_step(x, y, state, None, resets)
    want = theirs(torch.from_numpy(ctx), torch.from_numpy(y.reshape(-1)))
    want.backward()
    assert abs(loss - want.item()) <= 1e-12 * abs(want.item())
    for name, param in theirs.named_parameters():
        assert rel_err(ours.grads[name], param.grad.numpy()) < 1e-10, name


def test_reference_reads_an_empty_memory_as_zero():
    """charlm never builds one (slot 0 is the input itself), but the reference must not give NaN."""
    _, theirs = make(2, None)
    ctx = torch.tensor([[-1] * M, [2, 5, -1, -1]])
    u = theirs.top_query(ctx)
    want = torch.full((D,), 0.1, dtype=torch.float64)
    for _ in range(2):  # the hops with o = 0
        want = theirs.hop.H @ want
        want[theirs.linear_units:] = torch.relu(want[theirs.linear_units:])
    assert rel_err(u[0].detach().numpy(), want.detach().numpy()) < 1e-13
    theirs(ctx, torch.tensor([1, 3])).backward()
    assert all(torch.isfinite(p.grad).all() for p in theirs.parameters())
