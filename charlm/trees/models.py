"""Recursive networks over binary parse trees, with a softmax classifier on every node.

- ``treernn``, the recursive NN (Socher et al. 2011/2013): p = tanh(W [a; b] + bias);
- ``rntn`` (Socher et al. 2013): p = tanh([a; b]^T V [a; b] + W [a; b] + bias), V: H slices of 2H x 2H;
- ``treelstm``, the binary constituency Tree-LSTM (Tai et al. 2015): gates from both children's
  h, a forget gate per child (core/kernels/trees.py); a leaf's cell reads its word vector.

A leaf's vector is its word's embedding, or its tanh (``leaf_tanh``, CoreNLP's recipe); the
Tree-LSTM's is the leaf cell's h. Every node's vector,
through dropout, goes to one classifier: logits = W_s p + b_s. The loss is the cross-entropy
summed over every scored node (label >= 0) and averaged over the batch's trees, the papers'
all-phrase supervision. The work is scheduled by height (batch.py): each level is one
batched matrix product and one fused kernel, forward and backward; nothing recurses.
"""

from __future__ import annotations

import numpy as np

from ..core.kernels import tensor as tensor_k
from ..core.kernels import trees as trees_k
from ..core.params import ParamStore, StoreBacked
from ..supervised.layers import Dropout
from .batch import TreeBatch
from .config import TreeModelConfig

EMBED_INIT = 0.1  # word vectors uniform in +-0.1: small enough that tanh compositions start unsaturated


class TreeModel(StoreBacked):
    def __init__(self, config: TreeModelConfig, dtype=np.float32, seed: int = 0):
        self.config = config
        self.store = ParamStore(self.param_shapes(config), dtype)
        self.dtype = self.store.dtype
        self.initialize(np.random.default_rng(seed))

    @staticmethod
    def param_shapes(config: TreeModelConfig) -> dict[str, tuple]:
        raise NotImplementedError

    def initialize(self, rng: np.random.Generator) -> None:
        """Word vectors uniform in +-EMBED_INIT; matrices as nn.Linear (+-1/sqrt(fan in)); the
        RNTN's tensor +-1/(2H) per entry, so that at first it is a small correction to W."""
        H = self.config.hidden_size
        for name, array in self.params.items():
            if name == "embedding.weight":
                bound = EMBED_INIT
            elif name == "compose.tensor":
                bound = 1.0 / (2 * H)
            else:
                bound = 1.0 / np.sqrt(self.params[name.replace("bias", "weight")].shape[1])
            array[...] = rng.uniform(-bound, bound, array.shape)

    def refresh(self) -> None:
        """Nothing is cached from the parameters (the classifiers' interface)."""

    # ------------------------------------------------------------------ forward / backward
    def node_logits(self, batch: TreeBatch, dropout: Dropout | None = None) -> np.ndarray:
        """(batch.size, C) logits of every node."""
        dropout = dropout or Dropout(0.0, None)
        vectors = self._forward(batch)
        self._fc_in = dropout.apply("nodes", vectors)
        return self._fc_in @ self.params["fc.weight"].T + self.params["fc.bias"]

    def train_step(self, batch: TreeBatch, rng: np.random.Generator | None = None) -> tuple[float, int, int]:
        """Forward and backward over a batch of trees; the gradient of the loss (summed over the
        scored nodes, averaged over trees) goes into ``store.grad``. Returns (loss, correct
        scored nodes, scored nodes)."""
        dropout = Dropout(self.config.dropout, rng)
        logits = self.node_logits(batch, dropout)
        scored = np.flatnonzero(batch.labels >= 0)
        labels = batch.labels[scored]
        z = logits[scored] - logits[scored].max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        rows = np.arange(scored.size)
        loss = float((log_norm - z[rows, labels]).astype(np.float64).sum()) / batch.trees
        correct = int(np.count_nonzero(z.argmax(axis=1) == labels))
        dlogits = np.zeros_like(logits)
        probs = np.exp(z - log_norm[:, None])
        probs[rows, labels] -= 1.0
        dlogits[scored] = probs / batch.trees
        g = self.grads
        np.matmul(dlogits.T, self._fc_in, out=g["fc.weight"])
        g["fc.bias"][:] = dlogits.sum(axis=0)
        dvectors = dropout.back("nodes", dlogits @ self.params["fc.weight"])
        self._backward(batch, dvectors)
        return loss, correct, int(scored.size)

    def _forward(self, batch: TreeBatch) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, batch: TreeBatch, dvectors: np.ndarray) -> None:
        raise NotImplementedError

    def _embed(self, batch: TreeBatch) -> np.ndarray:
        x = np.empty((batch.leaves.size, self.config.embed_size), self.dtype)
        tensor_k.gather_rows(self.params["embedding.weight"], batch.words, x)
        return x

    def _embedding_backward(self, batch: TreeBatch, dx: np.ndarray) -> None:
        dE = self.grads["embedding.weight"]
        dE[:] = 0
        tensor_k.scatter_add_rows(dE, batch.words, np.ascontiguousarray(dx))


class TreeRNN(TreeModel):
    """The recursive NN; the RNTN adds the tensor term (``tensor = True``)."""

    tensor = False

    @classmethod
    def param_shapes(cls, config):
        H, C = config.hidden_size, config.num_classes
        shapes = {"embedding.weight": (config.vocab_size, H), "compose.weight": (H, 2 * H), "compose.bias": (H,)}
        if cls.tensor:
            shapes["compose.tensor"] = (H, 2 * H, 2 * H)
        shapes.update({"fc.weight": (C, H), "fc.bias": (C,)})
        return shapes

    def _forward(self, batch):
        H = self.config.hidden_size
        p = np.empty((batch.size, H), self.dtype)
        leaves = self._embed(batch)
        p[batch.leaves] = np.tanh(leaves, out=leaves) if self.config.leaf_tanh else leaves
        W, b = self.params["compose.weight"], self.params["compose.bias"]
        if self.tensor:
            V = self.params["compose.tensor"]
            V_rows = V.transpose(1, 0, 2).reshape(2 * H, H * 2 * H)  # [i, k*2H + j] = V[k, i, j]
        self._inputs = []
        for level in batch.levels:
            x = np.concatenate((p[level.left], p[level.right]), axis=1)  # (m, 2H) = [a; b]
            z = x @ W.T
            if self.tensor:
                xv = (x @ V_rows).reshape(-1, H, 2 * H)  # xv[m, k, j] = sum_i x_i V[k, i, j]
                z += np.einsum("mkj,mj->mk", xv, x)
            trees_k.tanh_bias_forward(z, b)
            p[level.nodes] = z
            self._inputs.append(x)
        self._p = p
        return p

    def _backward(self, batch, dp):
        H = self.config.hidden_size
        g, W = self.grads, self.params["compose.weight"]
        if self.tensor:
            g["compose.tensor"][...] = 0
            V = self.params["compose.tensor"]
            V_sym = (V + V.transpose(0, 2, 1)).reshape(H * 2 * H, 2 * H)  # d(x^T V_k x)/dx = (V_k + V_k^T) x
        dzs = []
        for level, x in zip(reversed(batch.levels), reversed(self._inputs)):
            dz = np.empty((level.nodes.size, H), self.dtype)
            trees_k.tanh_backward(dp[level.nodes], self._p[level.nodes], dz)
            dzs.append(dz)
            dx = dz @ W
            if self.tensor:
                outer = (dz[:, :, None] * x[:, None, :]).reshape(-1, H * 2 * H)  # [m, k*2H + i] = dz_k x_i
                g["compose.tensor"] += (outer.T @ x).reshape(H, 2 * H, 2 * H)
                dx += outer @ V_sym
            dp[level.left] += dx[:, :H]  # one parent per node: no row is written twice
            dp[level.right] += dx[:, H:]
        _weight_gradients(g["compose.weight"], g["compose.bias"], dzs, self._inputs[::-1])
        dleaves = dp[batch.leaves]
        if self.config.leaf_tanh:
            dleaves *= 1 - self._p[batch.leaves] ** 2
        self._embedding_backward(batch, dleaves)


class RNTN(TreeRNN):
    tensor = True


class TreeLSTM(TreeModel):
    @staticmethod
    def param_shapes(config):
        H, E, C = config.hidden_size, config.embed_size, config.num_classes
        return {"embedding.weight": (config.vocab_size, E), "leaf.weight": (3 * H, E), "leaf.bias": (3 * H,),
                "compose.weight": (5 * H, 2 * H), "compose.bias": (5 * H,), "fc.weight": (C, H), "fc.bias": (C,)}

    def initialize(self, rng):
        super().initialize(rng)
        H = self.config.hidden_size
        self.params["compose.bias"][H:3 * H] = 1.0  # both forget gates start open (Jozefowicz et al. 2015)

    def _forward(self, batch):
        H = self.config.hidden_size
        h = np.empty((batch.size, H), self.dtype)
        c = np.empty((batch.size, H), self.dtype)
        x = self._embed(batch)
        gates = x @ self.params["leaf.weight"].T
        c_leaf, h_leaf = np.empty((x.shape[0], H), self.dtype), np.empty((x.shape[0], H), self.dtype)
        trees_k.tree_lstm_leaf_forward(gates, self.params["leaf.bias"], c_leaf, h_leaf)
        c[batch.leaves], h[batch.leaves] = c_leaf, h_leaf
        self._x, self._leaf_gates = x, gates
        U, b = self.params["compose.weight"], self.params["compose.bias"]
        self._saved = []
        for level in batch.levels:
            hx = np.concatenate((h[level.left], h[level.right]), axis=1)
            g = hx @ U.T
            cl, cr = c[level.left], c[level.right]
            cn, hn = np.empty_like(cl), np.empty_like(cl)
            trees_k.tree_lstm_forward(g, b, cl, cr, cn, hn)
            c[level.nodes], h[level.nodes] = cn, hn
            self._saved.append((hx, g, cl, cr))
        self._c = c
        return h

    def _backward(self, batch, dh):
        H = self.config.hidden_size
        grads, U = self.grads, self.params["compose.weight"]
        dc = np.zeros_like(dh)
        dgs = []
        for level, (hx, g, cl, cr) in zip(reversed(batch.levels), reversed(self._saved)):
            m = level.nodes.size
            dg = np.empty((m, 5 * H), self.dtype)
            dcl, dcr = np.empty((m, H), self.dtype), np.empty((m, H), self.dtype)
            trees_k.tree_lstm_backward(np.ascontiguousarray(dh[level.nodes]), np.ascontiguousarray(dc[level.nodes]),
                                       g, self._c[level.nodes], cl, cr, dg, dcl, dcr)
            dgs.append(dg)
            dhx = dg @ U
            dh[level.left] += dhx[:, :H]
            dh[level.right] += dhx[:, H:]
            dc[level.left] += dcl
            dc[level.right] += dcr
        _weight_gradients(grads["compose.weight"], grads["compose.bias"], dgs, [saved[0] for saved in self._saved[::-1]])
        leaves = batch.leaves
        dg = np.empty_like(self._leaf_gates)
        trees_k.tree_lstm_leaf_backward(np.ascontiguousarray(dh[leaves]), np.ascontiguousarray(dc[leaves]),
                                        self._leaf_gates, np.ascontiguousarray(self._c[leaves]), dg)
        np.matmul(dg.T, self._x, out=grads["leaf.weight"])
        grads["leaf.bias"][:] = dg.sum(axis=0)
        self._embedding_backward(batch, dg @ self.params["leaf.weight"])


def _weight_gradients(dW: np.ndarray, db: np.ndarray, douts: list, inputs: list) -> None:
    """dW = sum over levels of dout^T x, as one product over every level's rows at once (a few
    large products run near the machine's peak; one per level, most of them small, do not)."""
    if not douts:
        dW[...] = 0
        db[...] = 0
        return
    dout = np.concatenate(douts)
    np.matmul(dout.T, np.concatenate(inputs), out=dW)
    db[:] = dout.sum(axis=0)


TREE_MODEL_CLASSES = {"treernn": TreeRNN, "rntn": RNTN, "treelstm": TreeLSTM}


def build_tree_model(config: TreeModelConfig, dtype=np.float32, seed: int = 0) -> TreeModel:
    return TREE_MODEL_CLASSES[config.model](config, dtype, seed)
