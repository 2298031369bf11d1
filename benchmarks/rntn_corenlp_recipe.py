"""An experiment, not yet part of charlm: `charlm classify train` with Stanford CoreNLP's RNTN
training recipe patched in (read from its SentimentModel / SentimentCostAndGradient /
SentimentTraining sources), to see how much of the gap to Socher et al.'s 45.7 it closes:

- W = [I + U, I + U] with U uniform in +-1/(2 sqrt(d)), zero bias; word vectors N(0, 0.1^2);
  the tensor uniform in +-1/(4d) (charlm: nn.Linear's +-1/sqrt(fan in), words +-0.1, +-1/(2d));
- a leaf's vector is tanh(word vector) (charlm: the word vector itself);
- L2 1e-3 on the composition weights and bias, 1e-4 on the classifier and the word vectors
  (charlm: 1e-4 on every weight, no bias);
- AdaGrad with eps 1e-3 added to the root (charlm: 1e-10), its sums reset every epoch.

PROTO=ident,tanh,l2,eps,reset (the default) turns each part on (add allnode to choose the epoch by
all-node dev accuracy, as CoreNLP does; "dev accuracy" in the summary is then that); every other
argument is charlm's:

    python benchmarks/rntn_corenlp_recipe.py classify train ../shared/corpora/classification/sst-trees \
        --model rntn --hidden-size 25 --batch-size 27 --lr 0.01 --epochs 100 --patience 25 --seed 0 --threads 1

Results in docs/results.md (Recursive networks over parse trees)."""
import os, sys
import numpy as np
import charlm.classify.tree_models as tm
import charlm.classify.tree_train as tt
import charlm.classify.train as ct
import charlm.core.optim as co

FLAGS = set(os.environ.get("PROTO", "ident,tanh,l2,eps,reset").split(","))
orig_init = tm.TreeModel.initialize
def initialize(self, rng):
    orig_init(self, rng)
    if not isinstance(self, tm.TreeRNN) or "ident" not in FLAGS:
        return
    H = self.config.hidden_size
    r = 1 / (2 * np.sqrt(H))
    W = self.params["compose.weight"]
    W[:] = rng.uniform(-r, r, W.shape)
    W[:, :H] += np.eye(H); W[:, H:] += np.eye(H)
    self.params["compose.bias"][:] = 0
    self.params["embedding.weight"][:] = rng.normal(0, 0.1, self.params["embedding.weight"].shape)
    if self.tensor:
        self.params["compose.tensor"][:] = rng.uniform(-1 / (4 * H), 1 / (4 * H), self.params["compose.tensor"].shape)
tm.TreeModel.initialize = initialize

if "tanh" in FLAGS:
    orig_embed = tm.TreeModel._embed
    def _embed(self, batch):
        x = orig_embed(self, batch)
        if isinstance(self, tm.TreeRNN):
            np.tanh(x, out=x)
            self._leaf = x
        return x
    tm.TreeModel._embed = _embed
    orig_eb = tm.TreeModel._embedding_backward
    def _embedding_backward(self, batch, dx):
        if isinstance(self, tm.TreeRNN):
            dx = dx * (1 - self._leaf ** 2)
        return orig_eb(self, batch, dx)
    tm.TreeModel._embedding_backward = _embedding_backward

if "l2" in FLAGS:
    def _forward_backward(self, index):
        loss, hits, count = self.model.train_step(self.train.batch(index), self.dropout_rng)
        for name in self.model.decayed() + ["compose.bias"]:
            reg = 1e-3 if name.startswith("compose") else 1e-4
            self.model.grads[name] += self.model.params[name].dtype.type(reg) * self.model.params[name]
        return loss, hits, count
    tt.TreeTrainer._forward_backward = _forward_backward

if "eps" in FLAGS:
    orig_ada = co.Adagrad.__init__
    def ada_init(self, store, lr=1e-2, eps=1e-10):
        orig_ada(self, store, lr, 1e-3)
    co.Adagrad.__init__ = ada_init

if "reset" in FLAGS:
    orig_epoch = ct.Trainer._train_epoch
    def _train_epoch(self):
        if hasattr(self.optimizer, "total"):
            self.optimizer.total[:] = 0
        return orig_epoch(self)
    ct.Trainer._train_epoch = _train_epoch

if "allnode" in FLAGS:  # CoreNLP scores dev by all-node accuracy (and saves every 8 epochs)
    def _dev_accuracy(self):
        predicted, labels, _ = tt.node_predictions(self.model, self.dev)
        scored = labels >= 0
        return float(np.mean(predicted[scored] == labels[scored]))
    tt.TreeTrainer._dev_accuracy = _dev_accuracy

from charlm.cli import main
sys.argv = ["charlm", *sys.argv[1:]]
main()
