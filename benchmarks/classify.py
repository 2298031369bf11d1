"""Classifier training speed: charlm's Text-RNN and RCNN against the same BiLSTM in PyTorch.

    python benchmarks/classify.py                       # SST-2-like batches, 1 thread
    python benchmarks/classify.py --threads 2 --batches 60 --json out.json

Sentences have SST-2's length distribution (a lognormal fitted to its training set: median 18
words, 1-56), batched 50 at a time after sorting by length within pools, as ``charlm classify
train`` does. Each engine runs in its own spawned process (their thread pools never compete),
pinned to the same thread count; after warm-up batches, the median of three timed passes over
the same batches is reported in training examples per second (forward, backward, Adam step).
PyTorch runs embedding -> packed bidirectional LSTM -> last states -> linear, the Text-RNN's
graph; it has no RCNN to compare with.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time

V, C = 15_000, 2  # SST-2's training vocabulary and classes


def make_batches(n_batches: int, batch_size: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(rng.lognormal(np.log(18), 0.5, n_batches * batch_size)), 1, 56).astype(int)
    lengths = np.sort(lengths)  # pools sorted by length: little padding, as in training
    batches = []
    for i in range(n_batches):
        lens = lengths[i * batch_size : (i + 1) * batch_size]
        seqs = [rng.integers(1, V, n).astype(np.int32) for n in lens]
        batches.append((seqs, rng.integers(0, C, batch_size)))
    return batches


def run_charlm(model, cell, E, H, threads, batches, queue):
    import numpy as np

    from charlm.classify.config import ClassifierConfig
    from charlm.classify.models import build_classifier
    from charlm.classify.padding import PaddedBatch
    from charlm.core.optim import clip_grad_norm, make_optimizer
    from charlm.core.threads import set_threads

    set_threads(threads)
    net = build_classifier(ClassifierConfig(model, V, C, cell=cell, embed_size=E, hidden_size=H, dropout=0.5,
                                       pool="max" if model == "rcnn" else "last"), np.float32)
    opt = make_optimizer("adam", net.store, 1e-3)
    rng = np.random.default_rng(0)
    prepared = [(PaddedBatch.from_sequences(s), y) for s, y in batches]

    def one_pass():
        for batch, y in prepared:
            net.train_step(batch, y, rng)
            clip_grad_norm(net.store.grad, 5.0)
            opt.step()
            net.refresh()

    queue.put(_time(one_pass, prepared))


def run_torch(model, cell, E, H, threads, batches, queue):
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    emb, rnn = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H, bidirectional=True)
    fc, drop = torch.nn.Linear(2 * H, C), torch.nn.Dropout(0.5)
    params = [*emb.parameters(), *rnn.parameters(), *fc.parameters()]
    opt = torch.optim.Adam(params, 1e-3)
    prepared = [(pad_sequence([torch.from_numpy(s).long() for s in seqs]), torch.tensor([len(s) for s in seqs]),
                 torch.from_numpy(y)) for seqs, y in batches]

    def one_pass():
        for x, lengths, y in prepared:
            opt.zero_grad()
            packed = pack_padded_sequence(drop(emb(x)), lengths, enforce_sorted=False)
            _, (h, _) = rnn(packed)
            loss = torch.nn.functional.cross_entropy(fc(drop(torch.cat((h[0], h[1]), 1))), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()

    queue.put(_time(one_pass, prepared))


def _time(one_pass, prepared) -> float:
    one_pass()  # warm-up: Numba cache, BLAS buffers, torch's allocator
    times = []
    for _ in range(3):
        start = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - start)
    examples = sum(len(b[-1]) for b in prepared)
    return examples / statistics.median(times)


def measure(target, *args) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, default=30, help="batches of 50 sentences per timed pass")
    parser.add_argument("--embed-size", type=int, default=300)
    parser.add_argument("--hidden-size", type=int, default=150)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    batches = make_batches(args.batches, 50)
    E, H, T = args.embed_size, args.hidden_size, args.threads
    rows = {
        "charlm textrnn": measure(run_charlm, "textrnn", "lstm", E, H, T, batches),
        "charlm rcnn": measure(run_charlm, "rcnn", "lstm", E, H, T, batches),
    }
    try:
        rows["torch textrnn"] = measure(run_torch, "textrnn", "lstm", E, H, T, batches)
    except ImportError:
        print("PyTorch not installed: install the 'bench' extra to compare")
    print(f"BiLSTM E={E} H={H}, {args.batches} batches of 50, {T} thread(s): training examples/s")
    for name, rate in rows.items():
        print(f"  {name:16s} {rate:10,.0f}")
    if "torch textrnn" in rows:
        print(f"  charlm/torch (textrnn): {rows['charlm textrnn'] / rows['torch textrnn']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": T, "embed_size": E, "hidden_size": H, "examples_per_s": rows}, f, indent=1)


if __name__ == "__main__":
    main()
