"""Training a recursive network over trees: shuffled batches of trees, every node supervised, an
L2 penalty on the weights and word vectors, the dev set's root accuracy after every epoch,
early stopping with patience and the best model kept. Reports to the same ``Sink`` as the
sequence classifiers (``train.py``), so the command line draws both alike."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..core.optim import clip_grad_norm, global_norm, make_optimizer
from .config import FitConfig
from .train import Sink, Trainer as SequenceTrainer
from .tree_batch import TreeBatch
from .tree_models import TreeModel
from .treebank import Tree

EVAL_TREES = 512


@dataclass
class EncodedTrees:
    trees: list[Tree]
    word_ids: list[np.ndarray]  # per tree, a token id per node (0 for inner nodes)

    def __len__(self) -> int:
        return len(self.trees)

    def batch(self, index) -> TreeBatch:
        return TreeBatch.from_trees([self.trees[i] for i in index], [self.word_ids[i] for i in index])


def node_predictions(model: TreeModel, data: EncodedTrees) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(predicted class of every node, its label, whether it is a root), over all the trees."""
    predicted, labels, is_root = [], [], []
    for start in range(0, len(data), EVAL_TREES):
        batch = data.batch(range(start, min(start + EVAL_TREES, len(data))))
        predicted.append(model.node_logits(batch).argmax(axis=1))
        labels.append(batch.labels)
        root = np.zeros(batch.size, bool)
        root[batch.roots] = True
        is_root.append(root)
    return np.concatenate(predicted), np.concatenate(labels), np.concatenate(is_root)


def root_accuracy(model: TreeModel, data: EncodedTrees) -> float:
    predicted, labels, is_root = node_predictions(model, data)
    return float(np.mean(predicted[is_root] == labels[is_root]))


class TreeTrainer(SequenceTrainer):
    """The sequence classifiers' loop (epochs, patience, best model, finite-step checks) with a
    tree model's step and measure."""

    def __init__(self, model: TreeModel, config: FitConfig, train: EncodedTrees, dev: EncodedTrees,
                 l2: float = 0.0, sink: Sink | None = None, on_best=None, log=None):
        config.validate()
        self.model, self.config, self.train, self.dev = model, config, train, dev
        self.l2 = l2
        self.sink = sink or Sink()
        self.on_best, self.log = on_best, log
        self.optimizer = make_optimizer(config.optimizer, model.store, config.lr)
        self.batch_rng = np.random.default_rng([config.seed, 1])
        self.dropout_rng = np.random.default_rng([config.seed, 2])
        self.history: list[dict] = []
        self.best_dev_acc = self.best_epoch = None
        self.epoch, self.train_seconds, self.examples_seen = 0, 0.0, 0
        self._best_params = None
        self._bad_steps = self.skipped_steps = 0
        self._decayed = [(model.params[n], model.grads[n]) for n in model.decayed()]

    def _dev_accuracy(self) -> float:
        return root_accuracy(self.model, self.dev)

    def _train_epoch(self) -> dict:
        cfg, model = self.config, self.model
        order = self.batch_rng.permutation(len(self.train))
        batches = [order[i:i + cfg.batch_size] for i in range(0, order.size, cfg.batch_size)]
        loss_sum, correct, scored, seen = 0.0, 0, 0, 0
        started = time.monotonic()
        for done, index in enumerate(batches, 1):
            loss, hits, count = model.train_step(self.train.batch(index), self.dropout_rng)
            if self.l2:
                # L2 penalty (l2/2) ||theta||^2 per tree: its gradient l2 * theta, no bias included.
                for param, grad in self._decayed:
                    grad += param.dtype.type(self.l2) * param
            grad = model.store.grad
            norm = clip_grad_norm(grad, cfg.clip_norm) if cfg.clip_norm is not None else global_norm(grad)
            if self._step_is_finite(loss, norm):
                self.optimizer.step()
                loss_sum += loss * index.size
                correct += hits
                scored += count
                seen += index.size
            self.sink.batch(done, len(batches), loss)
        seconds = time.monotonic() - started
        self.train_seconds += seconds
        self.examples_seen += seen
        return {"epoch": self.epoch, "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(scored, 1),
                "seconds": seconds, "examples_per_s": seen / seconds if seconds else None}
