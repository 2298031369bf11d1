"""What data-parallel training costs: the allreduce of each step against the step's compute.

    python benchmarks/allreduce.py                     # 512x2 char LSTM, 2 local ranks
    python benchmarks/allreduce.py --ranks 2 --H 256 --N 50 --json out.json

The script first times one process on the whole batch (every core), then launches itself
under ``mpiexec -n R python -m mpi4py`` (this machine only: fork launcher on localhost, shared
memory) where each rank trains its share of the same batch on cores // R threads. Per step it
times, on every rank: the forward+backward of the rank's streams, the one Allreduce that
charlm's data-parallel step does (charlm/distributed.py: gradient + loss + token count in one
buffer), and clip + Adam. Medians over steps; the slowest rank counts, since everyone waits for it.

The allreduce figure here is shared memory between two processes on one machine. On a network a
ring allreduce moves about 2·(R−1)/R of the gradient's bytes in and out of every rank per step;
divide that by the link bandwidth to predict it (the README's "Training on several machines").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(args, rows: int):
    import numpy as np

    from charlm.lm.config import ModelConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.core.optim import clip_grad_norm, make_optimizer

    model = RecurrentLanguageModel(ModelConfig(vocab_size=args.V, cell="lstm", hidden_size=args.H, layers=args.L))
    opt = make_optimizer("adam", model.store, 2e-3)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, args.V, (args.T, rows)).astype(np.int32),
                rng.integers(0, args.V, (args.T, rows)).astype(np.int32)) for _ in range(4)]
    return model, opt, batches, clip_grad_norm


def time_steps(args, group) -> dict:
    rows = group.shard(args.N)
    n_local = rows.stop - rows.start
    model, opt, batches, clip = build(args, n_local)
    state = model.initial_state(n_local)
    compute, reduce, update = [], [], []
    for i in range(args.warmup + args.steps):
        x, y = batches[i % 4]
        t0 = time.perf_counter()
        loss, state = model.train_step(x, y, state)
        t1 = time.perf_counter()
        group.combine(model.store, loss, x.size, (False, False, False))
        t2 = time.perf_counter()
        clip(model.store.grad, 5.0)
        opt.step()
        model.refresh()
        t3 = time.perf_counter()
        if i >= args.warmup:
            compute.append(t1 - t0)
            reduce.append(t2 - t1)
            update.append(t3 - t2)
    return {"rank": group.rank, "rows": n_local, "compute_s": statistics.median(compute),
            "allreduce_s": statistics.median(reduce), "update_s": statistics.median(update),
            "step_s": statistics.median(a + b + c for a, b, c in zip(compute, reduce, update)),
            "grad_bytes": model.store.grad_buffer.nbytes}


def rank_main(args) -> None:
    """Inside mpiexec: every rank times its steps; rank 0 writes them all to --result."""
    from charlm.lm.train.distributed import current_group
    from charlm.core.threads import set_threads

    group = current_group()
    set_threads(max(1, args.threads // group.size))
    figures = time_steps(args, group)
    everyone = group.gather(figures)
    if group.is_root:
        Path(args.result).write_text(json.dumps(everyone))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="cores of this machine, shared by the ranks")
    parser.add_argument("--V", type=int, default=65)
    parser.add_argument("--H", type=int, default=512)
    parser.add_argument("--L", type=int, default=2)
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--result", help=argparse.SUPPRESS)  # internal: a rank's output file
    args = parser.parse_args(argv)
    if args.result:
        rank_main(args)
        return 0

    from charlm.lm.train.distributed import Single
    from charlm.core.threads import set_threads

    set_threads(args.threads)
    single = time_steps(args, Single())
    mpiexec = Path(sys.executable).parent / "mpiexec"
    result = Path(f"/tmp/charlm-allreduce-{os.getpid()}.json")
    command = [str(mpiexec if mpiexec.exists() else "mpiexec"), "-launcher", "fork", "-hosts", "localhost",
               "-n", str(args.ranks), sys.executable, "-m", "mpi4py", __file__, *(argv or sys.argv[1:]),
               "--result", str(result)]
    env = dict(os.environ, UCX_TLS="self,sm")
    subprocess.run(command, check=True, env=env)
    ranks = json.loads(result.read_text())
    result.unlink()

    slowest = max(ranks, key=lambda r: r["step_s"])
    tokens = args.T * args.N
    grad_mb = slowest["grad_bytes"] / 1e6
    ring_mb = 2 * (args.ranks - 1) / args.ranks * grad_mb
    print(f"char LSTM V={args.V} {args.H}x{args.L} T={args.T} N={args.N} (global batch); "
          f"gradient {grad_mb:.1f} MB; {args.threads} cores")
    print(f"{'':32}{'compute':>10}{'allreduce':>11}{'update':>9}{'step':>9}{'tokens/s':>10}")
    print(f"{'1 process, ' + str(args.threads) + ' threads':32}{single['compute_s'] * 1e3:>8.1f}ms{'-':>11}"
          f"{single['update_s'] * 1e3:>7.1f}ms{single['step_s'] * 1e3:>7.1f}ms{tokens / single['step_s']:>10,.0f}")
    for r in ranks:
        label = f"rank {r['rank']} of {args.ranks} ({r['rows']} streams)"
        print(f"{label:32}{r['compute_s'] * 1e3:>8.1f}ms{r['allreduce_s'] * 1e3:>9.2f}ms"
              f"{r['update_s'] * 1e3:>7.1f}ms{r['step_s'] * 1e3:>7.1f}ms{tokens / r['step_s']:>10,.0f}")
    share = slowest["allreduce_s"] / slowest["step_s"]
    print(f"allreduce: {slowest['allreduce_s'] * 1e3:.2f} ms = {share:.1%} of the step; "
          f"{args.ranks} ranks vs 1 process: {single['step_s'] / slowest['step_s']:.2f}x; "
          f"a ring allreduce moves {ring_mb:.1f} MB per rank per step "
          f"(at 1.25 GB/s, 10 Gbit/s: {ring_mb / 1250 * 1e3:.1f} ms)")
    if args.json:
        args.json.write_text(json.dumps({"single": single, "ranks": ranks, "ring_mb": ring_mb}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
