"""Recursive networks over trees: charlm's level-batched kernels against PyTorch walking each tree
node by node, the way published PyTorch Tree-LSTM code does (dasguptar/treelstm.pytorch: one tree
at a time, a recursive forward, backward per tree, an optimizer step per batch of trees).

    python benchmarks/trees.py                          # Tree-LSTM d=150 and RNTN d=30, 1 thread
    python benchmarks/trees.py --threads 2 --json out.json

Trees are the Sentiment Treebank's training trees (../shared/corpora/classification/sst-trees) when
present, else synthetic binary trees with SST's sentence lengths. Each engine runs in its own
spawned process, pinned to the same thread count; after a warm-up pass, the median of three timed
passes is reported in trees per second, for training (forward, backward over every node's loss,
AdaGrad with weight decay, batches of 25) and for inference (every node's class).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SST = ROOT.parent / "shared" / "corpora" / "classification" / "sst-trees" / "train.txt"
BATCH = 25
MODELS = {"treelstm": 150, "rntn": 30}


def load_trees(n: int):
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from charlm.trees.treebank import fallback_tree, read_trees

    if SST.exists():
        trees = read_trees(SST)
        return [trees[i] for i in np.random.default_rng(0).permutation(len(trees))[:n]], "SST train trees"
    rng = np.random.default_rng(0)
    lengths = np.clip(np.round(rng.lognormal(np.log(18), 0.5, n)), 1, 56).astype(int)
    trees = []
    for length in lengths:
        tree = fallback_tree([f"w{int(w)}" for w in rng.integers(0, 5000, length)])
        trees.append(tree.relabelled(rng.integers(0, 5, len(tree))))
    return trees, "synthetic balanced trees, SST's lengths"


# ------------------------------------------------------------------------------ charlm
def charlm_engine(model_name: str, d: int, trees):
    import numpy as np

    from charlm.trees.config import TreeModelConfig
    from charlm.trees.models import build_tree_model
    from charlm.trees.session import build_vocab, encode
    from charlm.core.optim import make_optimizer

    vocab = build_vocab(trees, 1, None)
    data, _ = encode(trees, vocab)
    model = build_tree_model(TreeModelConfig(model=model_name, vocab_size=len(vocab), num_classes=5, hidden_size=d,
                                             dropout=0.0))
    optimizer = make_optimizer("adagrad", model.store, 0.05)
    decayed = [(model.params[n], model.grads[n]) for n in model.decayed()]
    batches = [data.batch(range(i, min(i + BATCH, len(trees)))) for i in range(0, len(trees), BATCH)]
    rng = np.random.default_rng(0)

    def train_pass():
        for batch in batches:
            model.train_step(batch, rng)
            for p, g in decayed:
                g += np.float32(1e-4) * p
            optimizer.step()

    eval_batches = [data.batch(range(i, min(i + 512, len(trees)))) for i in range(0, len(trees), 512)]

    def infer_pass():
        for batch in eval_batches:
            model.node_logits(batch).argmax(axis=1)

    return train_pass, infer_pass


# ------------------------------------------------------------------------------ PyTorch
def torch_engine(model_name: str, d: int, trees):
    import torch
    from torch import nn

    words = sorted({w for t in trees for w in t.leaves})
    index = {w: i for i, w in enumerate(words)}

    class Node:
        __slots__ = ("label", "word", "children")

    def to_nodes(tree):
        nodes = []
        for n in range(len(tree)):
            node = Node()
            node.label = int(tree.labels[n])
            node.word = index[tree.words[n]] if tree.words[n] else None
            node.children = (nodes[tree.left[n]], nodes[tree.right[n]]) if tree.left[n] >= 0 else ()
            nodes.append(node)
        return nodes[-1]

    roots = [to_nodes(t) for t in trees]

    class TreeLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(len(words), d)
            self.leaf = nn.Linear(d, 3 * d)
            self.compose = nn.Linear(2 * d, 5 * d)
            self.fc = nn.Linear(d, 5)

        def node(self, node, out):
            if not node.children:
                i, o, u = self.leaf(self.emb.weight[node.word]).chunk(3)
                c = torch.sigmoid(i) * torch.tanh(u)
            else:
                (hl, cl), (hr, cr) = self.node(node.children[0], out), self.node(node.children[1], out)
                i, fl, fr, o, u = self.compose(torch.cat((hl, hr))).chunk(5)
                c = torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(fl) * cl + torch.sigmoid(fr) * cr
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append((h, node.label))
            return h, c

    class RNTN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(len(words), d)
            self.W = nn.Linear(2 * d, d)
            self.V = nn.Parameter(torch.randn(d, 2 * d, 2 * d) / (2 * d))
            self.fc = nn.Linear(d, 5)

        def node(self, node, out):
            if not node.children:
                p = self.emb.weight[node.word]
            else:
                x = torch.cat((self.node(node.children[0], out), self.node(node.children[1], out)))
                p = torch.tanh(self.W(x) + torch.einsum("i,kij,j->k", x, self.V, x))
            out.append((p, node.label))
            return p

    net = TreeLSTM() if model_name == "treelstm" else RNTN()
    optimizer = torch.optim.Adagrad(net.parameters(), lr=0.05, weight_decay=1e-4)

    def logits_of(root):
        out = []
        net.node(root, out)
        vectors = torch.stack([v for v, _ in out])
        return net.fc(vectors), torch.tensor([label for _, label in out])

    def train_pass():
        for start in range(0, len(roots), BATCH):
            optimizer.zero_grad()
            for root in roots[start:start + BATCH]:
                logits, labels = logits_of(root)
                (nn.functional.cross_entropy(logits, labels, reduction="sum") / BATCH).backward()
            optimizer.step()

    def infer_pass():
        with torch.no_grad():
            for root in roots:
                logits_of(root)[0].argmax(dim=1)

    return train_pass, infer_pass


# ------------------------------------------------------------------------------ timing
def _worker(conn, engine: str, model_name: str, d: int, n_trees: int, threads: int) -> None:
    sys.path.insert(0, str(ROOT))
    from charlm.core.threads import set_threads

    set_threads(threads)
    if engine == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
    trees, source = load_trees(n_trees)
    train_pass, infer_pass = (charlm_engine if engine == "charlm" else torch_engine)(model_name, d, trees)
    result = {"source": source}
    for name, run in (("train", train_pass), ("infer", infer_pass)):
        run()  # warm-up (and, for charlm, the kernels' compile or cache load)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        result[name] = n_trees / statistics.median(times)
    conn.send(result)
    conn.close()


def measure(engine: str, model_name: str, d: int, n_trees: int, threads: int) -> dict:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_worker, args=(child, engine, model_name, d, n_trees, threads))
    process.start()
    result = parent.recv()
    process.join()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--trees", type=int, default=1000, help="trees charlm times per pass")
    parser.add_argument("--torch-trees", type=int, default=100, help="trees PyTorch times per pass (it is slower)")
    parser.add_argument("--only", choices=sorted(MODELS), nargs="*")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for model_name, d in MODELS.items():
        if args.only and model_name not in args.only:
            continue
        ours = measure("charlm", model_name, d, args.trees, args.threads)
        theirs = measure("torch", model_name, d, args.torch_trees, args.threads)
        rows.append({"model": model_name, "d": d, "charlm": ours, "torch": theirs})
    print(f"trees: {rows[0]['charlm']['source']}; {args.threads} thread(s); batches of {BATCH}")
    print(f"{'model':<14} {'task':<6} {'charlm trees/s':>15} {'PyTorch trees/s':>16} {'ratio':>7}   bar")
    for r in rows:
        for task in ("train", "infer"):
            ratio = r["charlm"][task] / r["torch"][task]
            verdict = "met" if ratio >= 10 else "MISSED"
            print(f"{r['model'] + ' d=' + str(r['d']):<14} {task:<6} {r['charlm'][task]:>15,.0f} "
                  f"{r['torch'][task]:>16,.1f} {ratio:>6.1f}x   >= 10x {verdict}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
