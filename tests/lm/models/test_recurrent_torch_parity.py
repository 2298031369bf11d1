"""The same weights in PyTorch's nn.LSTM / nn.GRU / nn.RNN give the same outputs, final states,
loss and gradients, and the same optimizer trajectory. Skipped when torch is not installed
(it is a benchmark/parity extra, never a runtime dependency: pip install -e '.[bench]')."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: install the 'bench' extra for parity tests")

from charlm.lm.config import ModelConfig  # noqa: E402
from charlm.lm.models.recurrent import RecurrentLanguageModel  # noqa: E402
from charlm.core.optim import Adam, clip_grad_norm  # noqa: E402

V, E, H, L, T, N = 11, 6, 6, 2, 5, 3
TORCH_RNN = {
    "lstm": lambda dt: torch.nn.LSTM(E, H, L, dtype=dt),
    "gru": lambda dt: torch.nn.GRU(E, H, L, dtype=dt),
    "rnn-tanh": lambda dt: torch.nn.RNN(E, H, L, nonlinearity="tanh", dtype=dt),
    "rnn-relu": lambda dt: torch.nn.RNN(E, H, L, nonlinearity="relu", dtype=dt),
}
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}


class TorchLM(torch.nn.Module):
    def __init__(self, cell, dtype, tied):
        super().__init__()
        self.encoder = torch.nn.Embedding(V, E, dtype=dtype)
        self.rnn = TORCH_RNN[cell](dtype)
        self.decoder = torch.nn.Linear(H, V, dtype=dtype)
        if tied:
            self.decoder.weight = self.encoder.weight

    def forward(self, x, state):
        out, state = self.rnn(self.encoder(x), state)
        return out, self.decoder(out), state


def pair(cell, dtype, tied=False, seed=0):
    config = ModelConfig(vocab_size=V, cell=cell, hidden_size=H, embed_size=E, layers=L, tie_weights=tied, init_scale=0.5)
    ours = RecurrentLanguageModel(config, dtype, seed=seed)
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    theirs = TorchLM(cell, torch_dtype, tied)
    missing, unexpected = theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.params.items()}, strict=False)
    assert not unexpected and set(missing) <= {"decoder.weight"}  # tied: the decoder weight is the encoder's
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, (T, N))
    y = rng.integers(0, V, (T, N))
    state = [tuple(rng.normal(size=(N, H)).astype(dtype) for _ in s) for s in ours.initial_state(N)]
    return ours, theirs, x, y, state


def torch_state(cell, state):
    stacked = [torch.from_numpy(np.stack([s[i] for s in state])) for i in range(len(state[0]))]
    return tuple(stacked) if cell == "lstm" else stacked[0]


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("cell", list(TORCH_RNN))
def test_forward_and_gradients_match_pytorch(cell, tied, dtype):
    ours, theirs, x, y, state = pair(cell, dtype, tied)
    tol = TOLERANCE[dtype]
    outputs, _ = ours.outputs(x, state)
    loss, finals = ours.train_step(x, y, state)

    out_t, logits_t, state_t = theirs(torch.from_numpy(x), torch_state(cell, state))
    loss_t = torch.nn.functional.cross_entropy(logits_t.reshape(-1, V), torch.from_numpy(y).reshape(-1))
    loss_t.backward()

    assert rel_err(outputs, out_t.detach().numpy()) <= tol
    assert abs(loss - loss_t.item()) / loss_t.item() <= tol
    state_t = state_t if isinstance(state_t, tuple) else (state_t,)
    for i, part in enumerate(state_t):
        assert rel_err(np.stack([f[i] for f in finals]), part.detach().numpy()) <= tol
    for name, param in theirs.named_parameters():
        assert rel_err(ours.grads[name], param.grad.numpy()) <= tol, name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_steps_with_clipping_and_adam_match_pytorch(cell):
    """Five windows with the state carried (and detached), global-norm clipping and Adam."""
    ours, theirs, x, y, state = pair(cell, np.float64)
    optimizer = Adam(ours.store, lr=0.01)
    optimizer_t = torch.optim.Adam(theirs.parameters(), lr=0.01)
    state_t = torch_state(cell, state)
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.integers(0, V, (T, N))
        y = rng.integers(0, V, (T, N))
        _, state = ours.train_step(x, y, state)
        clip_grad_norm(ours.store.grad, 0.5)
        optimizer.step()
        ours.refresh()

        optimizer_t.zero_grad()
        _, logits, state_t = theirs(torch.from_numpy(x), state_t)
        torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)
        optimizer_t.step()
        state_t = tuple(s.detach() for s in state_t) if isinstance(state_t, tuple) else state_t.detach()
    for name, param in theirs.named_parameters():
        assert rel_err(ours.params[name], param.detach().numpy()) <= 1e-9, name
