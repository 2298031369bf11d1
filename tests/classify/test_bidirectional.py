"""The bidirectional layer over a padded batch of variable-length sequences: gradients against
finite differences for every cell, padding that leaks nowhere, and PyTorch's packed
bidirectional RNNs as independent truth."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.classify.bidirectional import BidirectionalLayer, bidirectional_param_shapes
from charlm.classify.padding import PaddedBatch, length_buckets
from charlm.core.params import ParamStore
from charlm.core.recurrent import CELLS
from tests.helpers.gradcheck import max_relative_error, numeric_gradient

T, N, D, H = 4, 3, 3, 3
LENGTHS = [4, 2, 1]  # one full, one half, one single-step sequence


def make_layer(cell: str, dtype=np.float64, seed=0):
    store = ParamStore({f"rnn.{k}": v for k, v in bidirectional_param_shapes(CELLS[cell], 0, D, H).items()}, dtype)
    rng = np.random.default_rng(seed)
    store.data[:] = rng.uniform(-0.8, 0.8, store.data.shape)
    layer = BidirectionalLayer(CELLS[cell], H, store, "rnn.", 0)
    layer.refresh()
    return layer, store


def batch_of(lengths, T=T):
    tokens = np.zeros((T, len(lengths)), np.int32)
    return PaddedBatch(tokens, np.array(lengths))


def test_reverse_index_reverses_within_each_length_and_is_its_own_inverse():
    batch = batch_of([4, 2, 1])
    rows = batch.reverse.reshape(T, N) // N
    assert rows[:, 0].tolist() == [3, 2, 1, 0]
    assert rows[:, 1].tolist() == [1, 0, 2, 3]  # padding stays in place
    assert rows[:, 2].tolist() == [0, 1, 2, 3]
    assert (batch.reverse[batch.reverse] == np.arange(T * N)).all()
    assert batch.last.tolist() == [3 * N + 0, 1 * N + 1, 0 * N + 2]


@pytest.mark.slow  # 1.2 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_gradients_match_finite_differences_with_variable_lengths(cell):
    layer, store = make_layer(cell)
    batch = batch_of(LENGTHS)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, N, D))
    mask = batch.mask[:, :, None]
    # A loss that weighs every valid output of both directions differently and ignores padding.
    w_fwd, w_back = rng.normal(size=(T, N, H)) * mask, rng.normal(size=(T, N, H)) * mask

    def loss():
        layer.refresh()
        y_fwd, y_back = layer.forward(x, batch)
        return float((w_fwd * y_fwd).sum() + (w_back * y_back).sum())

    loss()
    dx = layer.backward(w_fwd, w_back)
    analytic = store.grad.copy()
    numeric = numeric_gradient(loss, store.data)
    errors = {name: max_relative_error(store.view(analytic, name), store.view(numeric, name)) for name in store.names()}
    errors["x"] = max_relative_error(dx, numeric_gradient(loss, x))
    assert max(errors.values()) <= 1e-6, errors
    assert np.all(dx[~batch.mask] == 0.0), "a padded input received gradient"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_sequence_gives_the_same_outputs_and_gradients_alone_or_padded_in_a_batch(cell):
    layer, store = make_layer(cell)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(T, N, D))
    x[~batch_of(LENGTHS).mask] = 1e3  # loud padding: a leak could not hide
    batch = batch_of(LENGTHS)
    mask = batch.mask[:, :, None]
    w_fwd, w_back = rng.normal(size=(T, N, H)) * mask, rng.normal(size=(T, N, H)) * mask
    y_fwd, y_back = (a.copy() for a in layer.forward(x, batch))
    layer.backward(w_fwd, w_back)
    together = store.grad.copy()
    alone = np.zeros_like(together)
    for n, length in enumerate(LENGTHS):
        one = batch_of([length], T=length)
        f, b = layer.forward(x[:length, n : n + 1].copy(), one)
        assert np.abs(f[:, 0] - y_fwd[:length, n]).max() <= 1e-13
        assert np.abs(b[:, 0] - y_back[:length, n]).max() <= 1e-13
        layer.backward(w_fwd[:length, n : n + 1], w_back[:length, n : n + 1])
        alone += store.grad
    assert np.abs(together - alone).max() <= 1e-12


def test_buckets_cover_every_example_once_and_are_seeded():
    lengths = np.random.default_rng(0).integers(1, 40, 1003)
    a = length_buckets(lengths, 16, np.random.default_rng(5), pool=4)
    b = length_buckets(lengths, 16, np.random.default_rng(5), pool=4)
    c = length_buckets(lengths, 16, np.random.default_rng(6), pool=4)
    assert sorted(np.concatenate(a).tolist()) == list(range(1003))
    assert all(len(x) <= 16 for x in a)
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert [x.tolist() for x in a] != [x.tolist() for x in c]
    # Sorting within pools cuts the padding well below that of random batches.
    padded = sum(len(x) * lengths[x].max() for x in a)
    shuffled = np.random.default_rng(1).permutation(1003)
    random_padded = sum(16 * lengths[shuffled[i : i + 16]].max() for i in range(0, 1003, 16))
    assert padded < 0.8 * random_padded


# ---------------------------------------------------------------------------------------- torch
TORCH_RNN = {"lstm": "LSTM", "gru": "GRU", "rnn-tanh": "RNN", "rnn-relu": "RNN"}


@pytest.mark.parametrize("cell", sorted(TORCH_RNN))
def test_matches_torch_packed_bidirectional_rnn(cell):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: install the 'bench' extra for parity tests")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    layer, store = make_layer(cell)
    kwargs = {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}
    theirs = getattr(torch.nn, TORCH_RNN[cell])(D, H, bidirectional=True, dtype=torch.float64, **kwargs)
    theirs.load_state_dict({k[4:]: torch.from_numpy(v.copy()) for k, v in store.params.items()})
    batch = batch_of(LENGTHS)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(T, N, D))
    mask = batch.mask[:, :, None]
    w = rng.normal(size=(T, N, 2 * H)) * mask

    y_fwd, y_back = (a.copy() for a in layer.forward(x, batch))
    layer.backward(w[:, :, :H], w[:, :, H:])

    x_t = torch.from_numpy(x).requires_grad_()
    packed = pack_padded_sequence(x_t, torch.tensor(LENGTHS), enforce_sorted=False)
    out, _ = pad_packed_sequence(theirs(packed)[0], total_length=T)
    (out * torch.from_numpy(w)).sum().backward()
    ours = np.concatenate((y_fwd, y_back), axis=2) * mask
    assert np.abs(ours - out.detach().numpy()).max() <= 1e-12
    for name, param in theirs.named_parameters():
        assert np.abs(store.grads[f"rnn.{name}"] - param.grad.numpy()).max() <= 1e-12, name
