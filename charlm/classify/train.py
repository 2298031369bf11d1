"""Training a sequence classifier: the loop of ``supervised/trainer.py`` (shared with the tree models)
over length-bucketed padded batches of sentences, and the batched class probabilities and accuracy
of a set of sentences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..supervised.layers import softmax
from ..supervised.trainer import SupervisedTrainer
from .models import Classifier
from .padding import PaddedBatch, length_buckets

EVAL_BATCH = 256


@dataclass
class EncodedSet:
    """One split as the model reads it: token-id arrays and class ids."""

    sequences: list[np.ndarray]
    labels: np.ndarray  # (n,) int64

    def __post_init__(self):
        self.lengths = np.array([s.size for s in self.sequences], np.int64)

    def __len__(self) -> int:
        return len(self.sequences)

    def batch(self, index) -> PaddedBatch:
        return PaddedBatch.from_sequences([self.sequences[i] for i in index])


def predict_probs(model: Classifier, sequences: list[np.ndarray], batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Class probabilities (n, C), float64, in the order of ``sequences``; batched by length."""
    lengths = np.array([s.size for s in sequences], np.int64)
    probs = np.empty((len(sequences), model.config.num_classes), np.float64)
    for index in length_buckets(lengths, batch_size, None):
        batch = PaddedBatch.from_sequences([sequences[i] for i in index])
        probs[index] = softmax(model.logits(batch).astype(np.float64))
    return probs


def accuracy(model: Classifier, data: EncodedSet) -> float:
    return float(np.mean(predict_probs(model, data.sequences).argmax(axis=1) == data.labels))


class ClassifierTrainer(SupervisedTrainer):
    """The loop (``supervised/trainer.py``) for a Classifier over EncodedSets: batches of sentences of
    about one length, one class per sentence."""

    def _dev_accuracy(self) -> float:
        return accuracy(self.model, self.dev)

    def _batches(self) -> list[np.ndarray]:
        """This epoch's batches, as index arrays into the training set."""
        return length_buckets(self.train.lengths, self.config.batch_size, self.batch_rng)

    def _forward_backward(self, index: np.ndarray) -> tuple[float, int, int]:
        """One batch's loss and gradient (into ``store.grad``): (loss, correct predictions,
        predictions scored)."""
        loss, hits = self.model.train_step(self.train.batch(index), self.train.labels[index], self.dropout_rng)
        return loss, hits, index.size
