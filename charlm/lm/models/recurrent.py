"""The language model: embedding -> L recurrent layers -> linear decoder -> softmax.

Parameters use the names of pytorch/examples' word_language_model (``encoder.weight``,
``rnn.weight_ih_l0``, ..., ``decoder.weight``, ``decoder.bias``) and PyTorch's layouts, so a
state dict can be compared with, or loaded into, a torch model one to one.

One window of tokens ``x, y`` (T, N) goes forward and backward in :meth:`train_step`: the
hidden state comes in, the final state goes out (to be carried into the next window: truncated
BPTT, no gradient crosses the window edge), the gradients land in ``store.grad``.
"""

from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from ..data.batching import count_scored
from ...core import adaptive_softmax
from ...core.kernels import softmax as softmax_k
from ...core.kernels import tensor as tensor_k
from ...core.params import ParamStore, StoreBacked
from ...core.recurrent import CELLS, RecurrentLayer, layer_param_shapes


def param_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    cell = CELLS[config.cell]
    V, E, H = config.vocab_size, config.embed_size, config.hidden_size
    shapes = {"encoder.weight": (V, E)}
    for layer in range(config.layers):
        for name, shape in layer_param_shapes(cell, layer, E if layer == 0 else H, H).items():
            shapes[f"rnn.{name}"] = shape
    if config.softmax == "adaptive":
        for name, shape in adaptive_softmax.param_shapes(H, V, config.cutoffs, config.tail_div).items():
            shapes[f"decoder.{name}"] = shape
        return shapes
    if not config.tie_weights:
        shapes["decoder.weight"] = (V, H)
    shapes["decoder.bias"] = (V,)
    return shapes


class RecurrentLanguageModel(StoreBacked):
    def __init__(self, config: ModelConfig, dtype=np.float32, seed: int = 0):
        if config.softmax == "adaptive":  # the cutoffs against the vocabulary, now that it is known
            adaptive_softmax.check_cutoffs(config.cutoffs, config.vocab_size, config.hidden_size, config.tail_div)
        self.config = config
        self.cell = CELLS[config.cell]
        self.store = ParamStore(param_shapes(config), dtype)
        self.dtype = self.store.dtype
        self.initialize(np.random.default_rng(seed))
        self.layers = []
        for layer in range(config.layers):
            suffix = f"_l{layer}"
            names = [n for n in self.store.names() if n.startswith("rnn.") and n.endswith(suffix)]
            params = {n[4 : -len(suffix)]: self.store.params[n] for n in names}
            grads = {n[4 : -len(suffix)]: self.store.grads[n] for n in names}
            self.layers.append(RecurrentLayer(self.cell, config.hidden_size, params, grads))
        self.adaptive = None  # the adaptive softmax, when it is the output layer
        if config.softmax == "adaptive":
            own = [n for n in self.store.names() if n.startswith("decoder.")]
            self.adaptive = adaptive_softmax.AdaptiveSoftmax(
                config.vocab_size, config.cutoffs, {n[8:]: self.store.params[n] for n in own},
                {n[8:]: self.store.grads[n] for n in own})
        self._buffers: dict[tuple, np.ndarray] = {}

    # ----------------------------------------------------------------- parameters
    def decoder_weight(self) -> np.ndarray:
        """The full softmax's decoder (V, H) (the embedding when tied)."""
        if self.adaptive is not None:
            raise ValueError("an adaptive softmax has no single decoder matrix")
        return self.params["encoder.weight" if self.config.tie_weights else "decoder.weight"]

    def _output_logits(self, dec_in: np.ndarray) -> np.ndarray:
        """(M, V) logits of every token (a fresh array); log-probabilities for the adaptive softmax,
        whose softmax gives the same distribution."""
        if self.adaptive is not None:
            return self.adaptive.log_probs(dec_in)
        return dec_in @ self.decoder_weight().T + self.params["decoder.bias"]

    def initialize(self, rng: np.random.Generator) -> None:
        cfg = self.config
        for name, array in self.params.items():
            if cfg.init_scale is not None:
                bound = cfg.init_scale
            elif name.startswith("rnn."):
                bound = 1.0 / np.sqrt(cfg.hidden_size)  # torch.nn.LSTM/GRU/RNN's default
            elif name == "decoder.bias":
                bound = 0.0
            else:
                bound = 0.1  # encoder and decoder weights, as word_language_model
            array[...] = rng.uniform(-bound, bound, array.shape) if bound else 0.0
        if cfg.forget_bias is not None and self.cell.has_forget_gate:
            H = cfg.hidden_size
            f = self.cell.gate_names.index("f")
            for layer in range(cfg.layers):
                # The two biases add up; the whole forget bias goes in b_ih.
                self.params[f"rnn.bias_ih_l{layer}"][f * H : (f + 1) * H] = cfg.forget_bias
                self.params[f"rnn.bias_hh_l{layer}"][f * H : (f + 1) * H] = 0.0
        self.refresh()

    def refresh(self) -> None:
        """Call after the parameters changed (optimizer step, load)."""
        for layer in getattr(self, "layers", []):
            layer.refresh()

    # ----------------------------------------------------------------- state
    def initial_state(self, batch_size: int) -> list[tuple]:
        return [layer.initial_state(batch_size) for layer in self.layers]

    def state_before(self, tokens: np.ndarray, offsets: np.ndarray, starts: np.ndarray) -> list[tuple]:
        """The state streams starting at ``offsets`` of ``tokens`` begin with: zero, as a
        recurrent state is known only by reading what comes before (the memory network's is not)."""
        return self.initial_state(len(offsets))

    # ----------------------------------------------------------------- buffers
    def _buf(self, name: str, shape: tuple) -> np.ndarray:
        """A scratch array reused across windows of the same shape (no allocation per step)."""
        key = (name, shape)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(shape, self.dtype)
        return buf

    def _use_projection_table(self, n_tokens: int, dropout_on_input: bool) -> bool:
        """Embedding then input projection is a lookup in (E W_ih0^T): (V, G*H), worth building
        when it is smaller than the window's projection, and valid only without dropout on the
        embedding output (the mask would sit between the two products)."""
        return not dropout_on_input and self.config.vocab_size <= n_tokens

    # ----------------------------------------------------------------- forward
    def _forward(self, x: np.ndarray, state: list[tuple], rng: np.random.Generator | None, resets=()):
        """Forward through embedding and layers. Returns the decoder input (T*N, H), the new
        state and what the backward needs. ``resets``: (t, rows) where a document begins (the
        state of those rows is zero before step t, in every layer)."""
        T, N = x.shape
        M = T * N
        cfg = self.config
        p = cfg.dropout if rng is not None else 0.0
        # int32 whatever the vocabulary's dtype: each kernel then compiles for one index type.
        tokens = np.ascontiguousarray(x.reshape(M), dtype=np.int32)
        E = self.params["encoder.weight"]
        GH = self.cell.gates * cfg.hidden_size
        saved = {"tokens": tokens, "inputs": [], "masks": [], "p": p, "shape": (T, N)}
        new_state = []

        a = self._buf("a0", (T, N, GH))
        if self._use_projection_table(M, p > 0):
            table = self._buf("table", (cfg.vocab_size, GH))
            np.matmul(E, self.params["rnn.weight_ih_l0"].T, out=table)
            tensor_k.gather_rows(table, tokens, a.reshape(M, GH))
            saved["table"] = True
            saved["inputs"].append(None)
            saved["masks"].append(None)
        else:
            emb = self._buf("emb", (M, cfg.embed_size))
            tensor_k.gather_rows(E, tokens, emb)
            layer_in = self._dropout(emb, p, rng, "drop0", saved)
            np.matmul(layer_in, self.params["rnn.weight_ih_l0"].T, out=a.reshape(M, GH))
            saved["table"] = False
            saved["inputs"].append(layer_in)

        for index, layer in enumerate(self.layers):
            out, final = layer.forward(a, state[index], resets)
            new_state.append(final)
            out2d = out.reshape(M, cfg.hidden_size)
            layer_out = self._dropout(out2d, p, rng, f"drop{index + 1}", saved)
            if index + 1 < len(self.layers):
                a = self._buf(f"a{index + 1}", (T, N, GH))
                np.matmul(layer_out, self.params[f"rnn.weight_ih_l{index + 1}"].T, out=a.reshape(M, GH))
                saved["inputs"].append(layer_out)
        return layer_out, new_state, saved

    def _dropout(self, x2d: np.ndarray, p: float, rng, name: str, saved: dict) -> np.ndarray:
        if p == 0.0:
            saved["masks"].append(None)
            return x2d
        uniform = self._buf(name + "u", x2d.shape)
        rng.random(out=uniform, dtype=self.dtype.type)
        out = self._buf(name, x2d.shape)
        tensor_k.dropout_forward(x2d.reshape(-1), uniform.reshape(-1), p, out.reshape(-1))
        saved["masks"].append(uniform)
        return out

    def _undropout(self, d2d: np.ndarray, mask_index: int, saved: dict) -> np.ndarray:
        uniform = saved["masks"][mask_index]
        if uniform is not None:
            tensor_k.dropout_backward(d2d.reshape(-1), uniform.reshape(-1), saved["p"], d2d.reshape(-1))
        return d2d

    # ----------------------------------------------------------------- public API
    def train_step(self, x: np.ndarray, y: np.ndarray, state: list[tuple], rng: np.random.Generator | None = None,
                   resets=()):
        """Forward and backward over one window. x, y: (T, N) token ids (y is x shifted by one;
        a negative target is masked: it would cross a document boundary). ``resets``: see
        :meth:`_forward`. Writes the gradient of the mean cross-entropy over the unmasked targets
        into ``store.grad``; returns (mean loss in nats, final state). ``rng`` draws the dropout
        masks (None: no dropout)."""
        T, N = x.shape
        M = T * N
        cfg = self.config
        V, H = cfg.vocab_size, cfg.hidden_size
        dec_in, new_state, saved = self._forward(x, state, rng, resets)
        targets = np.ascontiguousarray(y.reshape(M), dtype=np.int32)
        scored = max(count_scored(targets), 1)

        grads = self.grads
        dE = grads["encoder.weight"]
        d_out = self._buf("dout", (M, H))
        if self.adaptive is not None:
            loss_sum, _ = self.adaptive.loss_and_grad(dec_in, targets, 1.0 / scored, d_out)
            dE[:] = 0
        else:
            # Decoder and loss: the logits become their own gradient in place.
            W_dec = self.decoder_weight()
            logits = self._buf("logits", (M, V))
            np.matmul(dec_in, W_dec.T, out=logits)
            grads["decoder.bias"][:] = 0
            loss_sum = softmax_k.softmax_cross_entropy(logits, self.params["decoder.bias"], targets, 1.0 / scored,
                                                       grads["decoder.bias"])
            if cfg.tie_weights:
                np.matmul(logits.T, dec_in, out=dE)  # the decoder's share of the tied weight's gradient
            else:
                np.matmul(logits.T, dec_in, out=grads["decoder.weight"])
                dE[:] = 0
            np.matmul(logits, W_dec, out=d_out)
        self._undropout(d_out, len(self.layers), saved)

        GH = self.cell.gates * H
        for index in range(len(self.layers) - 1, -1, -1):
            da, _ = self.layers[index].backward(d_out.reshape(T, N, H), None)
            da2d = da.reshape(M, GH)
            W_ih = self.params[f"rnn.weight_ih_l{index}"]
            dW_ih = grads[f"rnn.weight_ih_l{index}"]
            if index == 0 and saved["table"]:
                # Sum da by token, then two small products instead of two (M x GH) ones.
                per_token = self._buf("per_token", (V, GH))
                per_token[:] = 0
                tensor_k.scatter_add_rows(per_token, saved["tokens"], da2d)
                np.matmul(per_token.T, self.params["encoder.weight"], out=dW_ih)
                dE += per_token @ W_ih
                continue
            np.matmul(da2d.T, saved["inputs"][index], out=dW_ih)
            d_in = self._buf(f"din{index}", (M, W_ih.shape[1]))
            np.matmul(da2d, W_ih, out=d_in)
            self._undropout(d_in, index, saved)
            if index == 0:
                tensor_k.scatter_add_rows(dE, saved["tokens"], d_in)
            else:
                d_out = d_in
        return loss_sum / scored, new_state

    def loss(self, x: np.ndarray, y: np.ndarray, state: list[tuple], resets=()):
        """Forward only (no dropout). Returns (summed loss in nats over the unmasked targets,
        final state)."""
        M = x.size
        dec_in, new_state, _ = self._forward(x, state, None, resets)
        targets = np.ascontiguousarray(y.reshape(M), dtype=np.int32)
        if self.adaptive is not None:
            return self.adaptive.loss(dec_in, targets), new_state
        logits = self._buf("logits", (M, self.config.vocab_size))
        np.matmul(dec_in, self.decoder_weight().T, out=logits)
        return softmax_k.cross_entropy(logits, self.params["decoder.bias"], targets), new_state

    def outputs(self, x: np.ndarray, state: list[tuple]):
        """Forward only (no dropout): the top layer's outputs (T, N, H) (a fresh array) and the final state."""
        dec_in, new_state, _ = self._forward(x, state, None)
        return dec_in.reshape(*x.shape, -1).copy(), new_state

    def step_logits(self, tokens: np.ndarray, state: list[tuple]):
        """One time step for N streams: tokens (N,) -> logits (N, V) (a fresh array), new state."""
        dec_in, new_state, _ = self._forward(tokens.reshape(1, -1), state, None)
        return self._output_logits(dec_in), new_state

    def inspect_window(self, x: np.ndarray, state: list[tuple]):
        """Forward only over one window x (T, N): the logits (T*N, V) (a fresh array), the final
        state, every layer's activations (:meth:`RecurrentLayer.activations`), and no extras
        (a memory network's attention goes there)."""
        dec_in, new_state, _ = self._forward(x, state, None)
        return self._output_logits(dec_in), new_state, [layer.activations() for layer in self.layers], {}
