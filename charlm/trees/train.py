"""Training a recursive network over trees: shuffled batches of trees, every node supervised, an
L2 penalty on the weights and word vectors, the dev set's root accuracy after every epoch,
early stopping with patience and the best model kept: the loop of ``supervised/trainer.py``, which
the sequence classifiers train with too, reporting to the same ``ClassifierObserver``, so the
command line draws both alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.optim import Adagrad
from ..store.checkpoint import refuse_non_finite
from ..supervised.config import FitConfig
from ..supervised.trainer import ClassifierObserver, SupervisedTrainer
from .batch import TreeBatch
from .models import TreeModel
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
        logits = model.node_logits(batch)
        refuse_non_finite(logits)  # an argmax over NaN would score as if it were a prediction
        predicted.append(logits.argmax(axis=1))
        labels.append(batch.labels)
        root = np.zeros(batch.size, bool)
        root[batch.roots] = True
        is_root.append(root)
    return np.concatenate(predicted), np.concatenate(labels), np.concatenate(is_root)


def root_accuracy(model: TreeModel, data: EncodedTrees) -> float:
    predicted, labels, is_root = node_predictions(model, data)
    return float(np.mean(predicted[is_root] == labels[is_root]))


class TreeTrainer(SupervisedTrainer):
    """The classifiers' loop (epochs, patience, best model, finite-step checks) with a tree model's
    batches, step and measure."""

    def __init__(self, model: TreeModel, config: FitConfig, train: EncodedTrees, dev: EncodedTrees,
                 l2: dict[str, float] | None = None, sink: ClassifierObserver | None = None, on_best=None, log=None,
                 adagrad_eps: float | None = None, reset_adagrad: bool = False):
        """``l2``: the L2 weight of each penalised parameter, by name (recipe.l2_weights);
        ``adagrad_eps`` replaces AdaGrad's, ``reset_adagrad`` zeroes its sums every epoch (both
        CoreNLP's recipe)."""
        super().__init__(model, config, train, dev, sink, on_best, log)
        if adagrad_eps is not None or reset_adagrad:
            if not isinstance(self.optimizer, Adagrad):
                raise ValueError("adagrad_eps and reset_adagrad need the adagrad optimizer")
            if adagrad_eps is not None:
                self.optimizer.eps = adagrad_eps
        self.reset_adagrad = reset_adagrad
        self._decayed = [(model.params[n], model.grads[n], model.params[n].dtype.type(w)) for n, w in (l2 or {}).items()]

    def _dev_accuracy(self) -> float:
        return root_accuracy(self.model, self.dev)

    def _batches(self) -> list[np.ndarray]:
        order = self.batch_rng.permutation(len(self.train))
        size = self.config.batch_size
        return [order[i:i + size] for i in range(0, order.size, size)]

    def _forward_backward(self, index: np.ndarray) -> tuple[float, int, int]:
        loss, hits, count = self.model.train_step(self.train.batch(index), self.dropout_rng)
        # L2 penalty (w/2) ||theta||^2 per tree: its gradient w * theta
        for param, grad, weight in self._decayed:
            grad += weight * param
        return loss, hits, count

    def _train_epoch(self) -> dict:
        if self.reset_adagrad:
            self.optimizer.total[:] = 0
        return super()._train_epoch()
