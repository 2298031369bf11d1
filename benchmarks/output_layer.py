"""A word model's output layer alone (decoder product, softmax cross-entropy and its gradient, the
decoder's weight gradient and the gradient of its input), three ways, side by side in one run:

- charlm's path (``RecurrentLanguageModel.train_step``): the whole (M, V) logits written once, turned into
  their own gradient in place by one kernel, then two products read them;
- row blocks of B rows (the fused layout the issue proposed): each block's logits, softmax and
  input gradient while the block is in cache, the gradients kept for one weight-gradient product
  at the end (accumulating dW block by block instead would read and write all of it per block);
- PyTorch: ``F.linear`` + ``F.cross_entropy`` + ``backward``, same shapes and threads.

    python benchmarks/output_layer.py [--threads 2] [--repeats 30]

Prints medians in ms per window and the logits' memory traffic of each layout (bytes of the (M, V)
matrix written and read outside the cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [("Rnnlm (H=100)", 700, 100, 10_000), ("PTB small (H=200)", 700, 200, 10_000)]


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from charlm.core.kernels import softmax as softmax_k
    from charlm.core.threads import set_threads

    set_threads(args.threads)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
        print("torch is not installed: no PyTorch column (pip install -e '.[bench]')", file=sys.stderr)

    print(f"{'shape':<20} {'layout':<22} {'ms':>7} {'logits MB moved':>16}")
    for name, M, H, V in SHAPES:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((M, H)).astype(np.float32)
        W = (0.1 * rng.standard_normal((V, H))).astype(np.float32)
        bias = np.zeros(V, np.float32)
        targets = rng.integers(0, V, M).astype(np.int32)
        G = np.empty((M, V), np.float32)
        dW, dX, db = np.empty((V, H), np.float32), np.empty((M, H), np.float32), np.zeros(V, np.float32)
        logits_mb = M * V * 4 / 1e6

        def whole():
            np.matmul(X, W.T, out=G)
            softmax_k.softmax_cross_entropy(G, bias, targets, 1.0 / M, db)
            np.matmul(G.T, X, out=dW)
            np.matmul(G, W, out=dX)

        def blocked(B):
            def run():
                for start in range(0, M, B):
                    block = G[start:start + B]
                    np.matmul(X[start:start + B], W.T, out=block)
                    softmax_k.softmax_cross_entropy(block, bias, targets[start:start + B], 1.0 / M, db)
                    np.matmul(block, W, out=dX[start:start + B])
                np.matmul(G.T, X, out=dW)
            return run

        # whole: written by the product, read and written by the kernel, read by two products;
        # blocked: written once from cache, read once by the weight-gradient product
        print(f"{name:<20} {'whole logits (charlm)':<22} {timed(whole, args.repeats):7.2f} {5 * logits_mb:16.0f}")
        for B in (64, 128, 256):
            print(f"{'':<20} {f'row blocks of {B}':<22} {timed(blocked(B), args.repeats):7.2f} {2 * logits_mb:16.0f}")
        if torch is not None:
            tX = torch.from_numpy(X).requires_grad_()
            tW = torch.from_numpy(W.copy()).requires_grad_()
            tb = torch.zeros(V, requires_grad=True)
            tt = torch.from_numpy(targets.astype(np.int64))

            def reference():
                tX.grad = tW.grad = tb.grad = None
                torch.nn.functional.cross_entropy(torch.nn.functional.linear(tX, tW, tb), tt).backward()
            print(f"{'':<20} {'PyTorch':<22} {timed(reference, args.repeats):7.2f} {'':>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
