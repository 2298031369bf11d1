"""The two classifiers: a bidirectional Text-RNN and the RCNN of Lai, Xu, Liu & Zhao (AAAI 2015).

Both share the ends (:class:`Classifier`)::

    tokens (T, N) ─► embedding (T, N, E) ─► dropout ─► features (N, F) ─► dropout ─► fc ─► softmax (N, C)

and differ in the features:

- Text-RNN: L stacked bidirectional layers (dropout between them), then the last states or a
  mean/max pool over the valid steps of the top layer's [forward; reverse] outputs (F = 2H).
- RCNN: one bidirectional layer gives each word i a left context c_l(i) = forward output at i-1
  (zero at i = 0) and a right context c_r(i) = reverse output at i+1 (zero at the last word);
  x_i = [c_l; e_i; c_r], y_i = tanh(W x_i + b), max-pooled over the valid i (F = proj size).

Parameter names follow PyTorch (``embedding.weight``, ``rnn.weight_ih_l0_reverse``, ``proj.weight``,
``fc.weight``) and live in one :class:`ParamStore`; a train step writes every gradient into it.
"""

from __future__ import annotations

import numpy as np

from ..core.kernels import tensor as tensor_k
from ..core.params import ParamStore, StoreBacked
from ..core.recurrent import CELLS
from ..supervised.layers import Dropout
from . import pooling
from .bidirectional import BidirectionalLayer, bidirectional_param_shapes
from .config import ClassifierConfig
from .padding import PaddedBatch

EMBED_INIT = 0.25  # uniform +-0.25: Kim (2014)'s random embeddings, about the variance of word2vec's


class Classifier(StoreBacked):
    def __init__(self, config: ClassifierConfig, dtype=np.float32, seed: int = 0):
        self.config = config
        self.cell = CELLS[config.cell]
        self.store = ParamStore(self.param_shapes(config), dtype)
        self.dtype = self.store.dtype
        self.layers = self._bind_layers()
        self.initialize(np.random.default_rng(seed))

    # ------------------------------------------------------------------ parameters
    @staticmethod
    def param_shapes(config: ClassifierConfig) -> dict[str, tuple]:
        raise NotImplementedError

    def _bind_layers(self) -> list[BidirectionalLayer]:
        H = self.config.hidden_size
        return [BidirectionalLayer(self.cell, H, self.store, "rnn.", k) for k in range(self.config.layers)]

    def initialize(self, rng: np.random.Generator) -> None:
        """PyTorch's defaults (recurrent weights +-1/sqrt(H), linear layers +-1/sqrt(fan in)),
        Kim's random embeddings, and the forget-gate bias of LSTMs."""
        cfg = self.config
        for name, array in self.params.items():
            if name == "embedding.weight":
                bound = EMBED_INIT
            elif name.startswith("rnn."):
                bound = 1.0 / np.sqrt(cfg.hidden_size)
            else:  # proj.* and fc.*: nn.Linear's bound, from the weight's fan in
                bound = 1.0 / np.sqrt(self.params[name.replace("bias", "weight")].shape[1])
            array[...] = rng.uniform(-bound, bound, array.shape)
        if cfg.forget_bias is not None and self.cell.has_forget_gate:
            H, f = cfg.hidden_size, self.cell.gate_names.index("f")
            for name in self.params:
                if name.startswith("rnn.bias_ih"):
                    self.params[name][f * H : (f + 1) * H] = cfg.forget_bias  # the two biases add up
                    self.params[name.replace("bias_ih", "bias_hh")][f * H : (f + 1) * H] = 0.0
        self.refresh()

    def refresh(self) -> None:
        """Call after the parameters changed (optimizer step, load)."""
        for layer in self.layers:
            layer.refresh()

    # ------------------------------------------------------------------ forward / backward
    def _forward(self, batch: PaddedBatch, dropout: Dropout) -> np.ndarray:
        """Logits (N, C); keeps what the backward needs."""
        T, N = batch.shape
        E = self.config.embed_size
        emb = np.empty((T * N, E), self.dtype)
        tensor_k.gather_rows(self.params["embedding.weight"], batch.tokens.reshape(-1), emb)
        x = dropout.apply("embedding", emb.reshape(T, N, E))
        self._features_in = self._features(x, batch, dropout)
        self._fc_in = dropout.apply("features", self._features_in)
        return self._fc_in @ self.params["fc.weight"].T + self.params["fc.bias"]

    def train_step(self, batch: PaddedBatch, labels: np.ndarray, rng: np.random.Generator | None = None):
        """Forward and backward over one batch. Writes the gradient of the mean cross-entropy into
        ``store.grad``; returns (mean loss in nats, number of correct predictions). ``rng`` draws
        the dropout masks (None: no dropout)."""
        dropout = Dropout(self.config.dropout, rng)
        logits = self._forward(batch, dropout)
        N = logits.shape[0]
        rows = np.arange(N)
        z = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        loss = float((log_norm - z[rows, labels]).astype(np.float64).sum()) / N
        probs = np.exp(z - log_norm[:, None])
        correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))

        dlogits = probs
        dlogits[rows, labels] -= 1.0
        dlogits /= N
        g = self.grads
        np.matmul(dlogits.T, self._fc_in, out=g["fc.weight"])
        g["fc.bias"][:] = dlogits.sum(axis=0)
        dfeat = dropout.back("features", dlogits @ self.params["fc.weight"])
        dx = dropout.back("embedding", self._features_backward(dfeat, batch))
        dE = g["embedding.weight"]
        dE[:] = 0
        tensor_k.scatter_add_rows(dE, batch.tokens.reshape(-1), dx.reshape(batch.tokens.size, -1))
        return loss, correct

    def logits(self, batch: PaddedBatch) -> np.ndarray:
        """Forward only, no dropout: (N, C) (a fresh array)."""
        return self._forward(batch, Dropout(0.0, None))

    def _features(self, x: np.ndarray, batch: PaddedBatch, dropout: Dropout) -> np.ndarray:
        raise NotImplementedError

    def _features_backward(self, dfeat: np.ndarray, batch: PaddedBatch) -> np.ndarray:
        """(N, F) -> the gradient of the embedding output (T, N, E)."""
        raise NotImplementedError


class TextRNN(Classifier):
    @staticmethod
    def param_shapes(config: ClassifierConfig) -> dict[str, tuple]:
        cell, E, H = CELLS[config.cell], config.embed_size, config.hidden_size
        shapes = {"embedding.weight": (config.vocab_size, E)}
        for k in range(config.layers):
            for name, shape in bidirectional_param_shapes(cell, k, E if k == 0 else 2 * H, H).items():
                shapes[f"rnn.{name}"] = shape
        shapes["fc.weight"] = (config.num_classes, 2 * H)
        shapes["fc.bias"] = (config.num_classes,)
        return shapes

    def _features(self, x, batch, dropout):
        h = x
        for k, layer in enumerate(self.layers):
            if k:
                h = dropout.apply(f"between{k}", h)
            y_fwd, y_back = layer.forward(h, batch)
            h = np.concatenate((y_fwd, y_back), axis=2)  # (T, N, 2H), a copy: y_fwd is a workspace view
        self._dropout = dropout
        pool = self.config.pool
        if pool == "last":
            return pooling.last_forward(h, batch)
        if pool == "mean":
            return pooling.mean_forward(h, batch)
        self._pool_input = h
        feat, self._argmax = pooling.max_forward(h, batch)
        return feat

    def _features_backward(self, dfeat, batch):
        pool, H = self.config.pool, self.config.hidden_size
        if pool == "last":
            dh = pooling.last_backward(dfeat, batch)
        elif pool == "mean":
            dh = pooling.mean_backward(dfeat, batch)
        else:
            dh = pooling.max_backward(dfeat, self._argmax, batch)
        for k in range(len(self.layers) - 1, -1, -1):
            dh = self.layers[k].backward(dh[:, :, :H], dh[:, :, H:])
            if k:
                dh = self._dropout.back(f"between{k}", dh)
        return dh


class RCNN(Classifier):
    @staticmethod
    def param_shapes(config: ClassifierConfig) -> dict[str, tuple]:
        cell, E, H, S = CELLS[config.cell], config.embed_size, config.hidden_size, config.proj_size
        shapes = {"embedding.weight": (config.vocab_size, E)}
        for name, shape in bidirectional_param_shapes(cell, 0, E, H).items():
            shapes[f"rnn.{name}"] = shape
        shapes["proj.weight"] = (S, 2 * H + E)
        shapes["proj.bias"] = (S,)
        shapes["fc.weight"] = (config.num_classes, S)
        shapes["fc.bias"] = (config.num_classes,)
        return shapes

    def _features(self, x, batch, dropout):
        T, N, E = x.shape
        H = self.config.hidden_size
        y_fwd, y_back = self.layers[0].forward(x, batch)
        # c_r at the last word of each sequence is zero: what follows it is padding.
        self._right = (np.arange(T)[:, None] + 1 < batch.lengths[None, :])[:, :, None]
        joined = np.zeros((T, N, 2 * H + E), self.dtype)  # x_i = [c_l(i); e(i); c_r(i)]
        joined[1:, :, :H] = y_fwd[:-1]
        joined[:, :, H : H + E] = x
        joined[:-1, :, H + E :] = y_back[1:]
        joined[:, :, H + E :] *= self._right
        self._joined = joined.reshape(T * N, -1)
        self._y = np.tanh(self._joined @ self.params["proj.weight"].T + self.params["proj.bias"])
        self._pool_input = self._y.reshape(T, N, -1)
        feat, self._argmax = pooling.max_forward(self._pool_input, batch)
        return feat

    def _features_backward(self, dfeat, batch):
        T, N = batch.shape
        H, E = self.config.hidden_size, self.config.embed_size
        dy = pooling.max_backward(dfeat, self._argmax, batch).reshape(T * N, -1)
        dz = dy * (1.0 - self._y * self._y)
        g = self.grads
        np.matmul(dz.T, self._joined, out=g["proj.weight"])
        g["proj.bias"][:] = dz.sum(axis=0)
        djoined = (dz @ self.params["proj.weight"]).reshape(T, N, -1)
        dy_fwd = np.zeros((T, N, H), self.dtype)
        dy_fwd[:-1] = djoined[1:, :, :H]
        dy_back = np.zeros((T, N, H), self.dtype)
        dy_back[1:] = djoined[:-1, :, H + E :] * self._right[:-1]
        return self.layers[0].backward(dy_fwd, dy_back) + djoined[:, :, H : H + E]


MODEL_CLASSES = {"textrnn": TextRNN, "rcnn": RCNN}


def build_classifier(config: ClassifierConfig, dtype=np.float32, seed: int = 0) -> Classifier:
    return MODEL_CLASSES[config.model](config, dtype, seed)
