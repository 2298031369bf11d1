"""charlm against PyTorch (and plain numpy) on the CPU, side by side, in one run.

    python benchmarks/throughput.py                 # every configuration, 2 threads
    python benchmarks/throughput.py --only lstm-256x2 --rounds 7 --json out.json

Each engine runs in its own worker process (so their BLAS/OpenMP thread pools never compete),
pinned to the same number of threads. The coordinator warms every worker up, then runs timed
rounds interleaved in time (charlm, torch, numpy, charlm, torch, numpy, ...), so a noisy
neighbour on the shared machine slows them all alike. Reported: tokens per second per engine
(median over rounds and the min-max spread), the ratio charlm/PyTorch computed per round from
adjacent rounds (median and spread), and charlm's model FLOPs as a fraction of this machine's
float32 matrix-multiply peak (numpy, 2048x2048 product, same thread count).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from alternating import alternate, serve, spawn, steps  # noqa: E402  (the alternating rounds' harness)


@dataclass
class Config:
    name: str
    task: str  # train | eval
    cell: str
    V: int
    H: int
    L: int
    T: int
    N: int
    optimizer: str = "adam"
    torch_reference: float | None = None  # PyTorch tokens/s quoted in the issue (this machine type)
    bar: float | None = None  # required charlm/PyTorch ratio
    softmax: str = "full"  # or "adaptive": charlm's --softmax adaptive, PyTorch's nn.AdaptiveLogSoftmaxWithLoss
    cutoffs: tuple = (2000, 10000)
    tail_div: float = 4.0
    # Targets drawn by Zipf's law (p(rank r) ~ 1/r), as words are, instead of uniformly: an adaptive
    # softmax's work depends on how many targets fall in its tail clusters.
    zipf: bool = False

    def label(self) -> str:
        kind = "eval, " if self.task == "eval" else ""
        opt = ", SGD" if self.optimizer == "sgd" else ""
        out = f", adaptive {','.join(map(str, self.cutoffs))}/{self.tail_div:g}" if self.softmax == "adaptive" else ""
        return f"{kind}{self.cell} V={self.V} {self.H}x{self.L} T={self.T} N={self.N}{opt}{out}"

    def cluster_shares(self) -> list[float]:
        """The expected share of targets in each tail cluster."""
        bounds = [0, *self.cutoffs, self.V]
        if not self.zipf:
            return [(b - a) / self.V for a, b in zip(bounds[1:-1], bounds[2:])]
        weights = 1.0 / (1.0 + __import__("numpy").arange(self.V))
        total = weights.sum()
        return [float(weights[a:b].sum() / total) for a, b in zip(bounds[1:-1], bounds[2:])]

    def flops_per_token(self) -> float:
        """Model FLOPs per token (matrix products only): forward 2*(D+H)*G*H per layer plus the
        decoder 2*H*V (adaptive: the head, and each cluster's two products for its share of the
        targets); training adds the backward, twice the forward."""
        gates = {"lstm": 4, "gru": 3, "rnn-tanh": 1, "rnn-relu": 1}[self.cell]
        decoder = 2 * self.H * self.V
        if self.softmax == "adaptive":
            bounds = [*self.cutoffs, self.V]
            decoder = 2 * self.H * (self.cutoffs[0] + len(self.cutoffs))
            for i, share in enumerate(self.cluster_shares()):
                width = int(self.H // self.tail_div ** (i + 1))
                decoder += share * 2 * (self.H * width + width * (bounds[i + 1] - bounds[i]))
        forward = self.L * 2 * (self.H + self.H) * gates * self.H + decoder
        return forward * (3 if self.task == "train" else 1)

    def targets(self, rng, shape):
        """Target ids (numpy) for the benchmark's windows."""
        if not self.zipf:
            return rng.integers(0, self.V, shape)
        import numpy as np

        weights = 1.0 / (1.0 + np.arange(self.V))
        return rng.choice(self.V, size=shape, p=weights / weights.sum())


CONFIGS = [
    Config("lstm-128x1", "train", "lstm", 65, 128, 1, 64, 32, torch_reference=151_750, bar=1.5),
    Config("lstm-256x2", "train", "lstm", 65, 256, 2, 100, 50, torch_reference=24_091, bar=1.1),
    Config("lstm-512x2", "train", "lstm", 65, 512, 2, 100, 64, torch_reference=6_763, bar=1.0),
    Config("gru-256x2", "train", "gru", 65, 256, 2, 100, 50, torch_reference=23_095, bar=1.5),
    Config("rnn-256x2", "train", "rnn-tanh", 65, 256, 2, 100, 50, torch_reference=63_019, bar=1.5),
    # the seed book's ch06 Rnnlm (LSTM 100x1, V = 10,000, T = 35, N = 20, SGD) and PTB "small"
    Config("rnnlm-100x1", "train", "lstm", 10_000, 100, 1, 35, 20, "sgd", torch_reference=14_200, bar=1.4),
    Config("word-200x2", "train", "lstm", 10_000, 200, 2, 35, 20, "sgd", torch_reference=7_258, bar=1.7),
    # WikiText-2's vocabulary, the 650x2 model: the full softmax against the adaptive one (--bar is
    # against PyTorch's same output layer; the adaptive/full ratio is read across the two rows)
    Config("wt2-650x2-full", "train", "lstm", 33_278, 650, 2, 35, 20, "sgd", zipf=True),
    Config("wt2-650x2-adaptive", "train", "lstm", 33_278, 650, 2, 35, 20, "sgd", softmax="adaptive", zipf=True),
    Config("eval-lstm-256x2", "eval", "lstm", 65, 256, 2, 100, 50, torch_reference=93_318, bar=1.2),
]


# ---------------------------------------------------------------------------------- engines
class CharlmEngine:
    def __init__(self, cfg: Config):
        import numpy as np

        from charlm.lm.config import ModelConfig
        from charlm.lm.models.recurrent import RecurrentLanguageModel
        from charlm.core.optim import clip_grad_norm, make_optimizer

        self.np, self.clip = np, clip_grad_norm
        adaptive = {"softmax": "adaptive", "cutoffs": list(cfg.cutoffs), "tail_div": cfg.tail_div} if cfg.softmax == "adaptive" else {}
        self.model = RecurrentLanguageModel(ModelConfig(vocab_size=cfg.V, cell=cfg.cell, hidden_size=cfg.H, layers=cfg.L, **adaptive))
        lr = 1.0 if cfg.optimizer == "sgd" else 2e-3
        self.opt = make_optimizer(cfg.optimizer, self.model.store, lr)
        rng = np.random.default_rng(0)
        self.batches = [(cfg.targets(rng, (cfg.T, cfg.N)), cfg.targets(rng, (cfg.T, cfg.N))) for _ in range(4)]
        self.state = self.model.initial_state(cfg.N)
        self.task = cfg.task

    def step(self, i: int) -> None:
        x, y = self.batches[i % 4]
        if self.task == "eval":
            _, self.state = self.model.loss(x, y, self.state)
            return
        _, self.state = self.model.train_step(x, y, self.state)
        self.clip(self.model.store.grad, 5.0)
        self.opt.step()
        self.model.refresh()


class TorchEngine:
    def __init__(self, cfg: Config, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        rnn_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn-tanh": torch.nn.RNN}[cfg.cell]

        class LM(torch.nn.Module):
            def __init__(s):
                super().__init__()
                s.encoder = torch.nn.Embedding(cfg.V, cfg.H)
                s.rnn = rnn_cls(cfg.H, cfg.H, cfg.L)
                if cfg.softmax == "adaptive":
                    s.decoder = torch.nn.AdaptiveLogSoftmaxWithLoss(cfg.H, cfg.V, list(cfg.cutoffs), div_value=cfg.tail_div)
                else:
                    s.decoder = torch.nn.Linear(cfg.H, cfg.V)

            def forward(s, x, h):
                out, h = s.rnn(s.encoder(x), h)
                return (out if cfg.softmax == "adaptive" else s.decoder(out)), h

        self.model = LM()
        lr = 1.0 if cfg.optimizer == "sgd" else 2e-3
        self.opt = (torch.optim.SGD if cfg.optimizer == "sgd" else torch.optim.Adam)(self.model.parameters(), lr=lr)
        import numpy as np

        rng = np.random.default_rng(0)
        self.batches = [(torch.from_numpy(cfg.targets(rng, (cfg.T, cfg.N))), torch.from_numpy(cfg.targets(rng, (cfg.T, cfg.N))))
                        for _ in range(4)]
        zeros = torch.zeros(cfg.L, cfg.N, cfg.H)
        self.state = (zeros, zeros.clone()) if cfg.cell == "lstm" else zeros
        self.cfg = cfg
        if cfg.task == "eval":
            self.model.eval()

    def _detach(self, state):
        return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()

    def step(self, i: int) -> None:
        torch, V = self.torch, self.cfg.V
        x, y = self.batches[i % 4]
        if self.cfg.task == "eval":
            with torch.no_grad():
                logits, self.state = self.model(x, self.state)
                torch.nn.functional.cross_entropy(logits.view(-1, V), y.view(-1))
            return
        self.state = self._detach(self.state)
        logits, self.state = self.model(x, self.state)
        if self.cfg.softmax == "adaptive":
            loss = self.model.decoder(logits.reshape(-1, self.cfg.H), y.reshape(-1)).loss
        else:
            loss = torch.nn.functional.cross_entropy(logits.view(-1, V), y.view(-1))
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.opt.step()


class NumpyEngine:
    def __init__(self, cfg: Config):
        import numpy as np

        from numpy_lm import NumpyLSTMLM

        self.model = NumpyLSTMLM(cfg.V, cfg.H, cfg.L)
        rng = np.random.default_rng(0)
        self.batches = [(rng.integers(0, cfg.V, (cfg.T, cfg.N)), rng.integers(0, cfg.V, (cfg.T, cfg.N))) for _ in range(4)]
        self.state = self.model.initial_state(cfg.N)

    def step(self, i: int) -> None:
        x, y = self.batches[i % 4]
        _, self.state = self.model.train_step(x, y, self.state)


def numpy_has_engine(cfg: Config) -> bool:
    return cfg.task == "train" and cfg.cell == "lstm"


# ---------------------------------------------------------------------------------- workers
def _worker(conn, engine_name: str, cfg_dict: dict, threads: int) -> None:
    cfg = Config(**cfg_dict)
    sys.path.insert(0, str(ROOT))
    if engine_name == "charlm":
        from charlm.core.threads import set_threads

        set_threads(threads)
        engine = CharlmEngine(cfg)
    elif engine_name == "torch":
        engine = TorchEngine(cfg, threads)
    else:
        engine = NumpyEngine(cfg)
    serve(conn, steps(engine.step), lambda: steps(engine.step)(3), calibrate_s=0.3)


def _peak_worker(conn) -> None:
    import numpy as np

    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    for _ in range(2):
        a @ a
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t0)
    conn.send(2 * 2048**3 / statistics.median(times))


def measure_peak(ctx) -> float:
    proc, conn = spawn(ctx, _peak_worker)
    flops = conn.recv()
    proc.join()
    return flops


def run_config(ctx, cfg: Config, engines: list[str], threads: int, rounds: int, seconds: float) -> dict:
    return alternate(ctx, _worker, {name: (asdict(cfg), threads) for name in engines}, rounds, seconds,
                     per_unit=cfg.T * cfg.N)


def summarize(cfg: Config, result: dict, peak: float) -> dict:
    rates = result["rates"]
    row = {"config": cfg.name, "label": cfg.label(), "bar": cfg.bar, "torch_reference": cfg.torch_reference}
    for name, values in rates.items():
        row[name] = {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}
    if "charlm" in rates:
        row["charlm_peak_fraction"] = row["charlm"]["median"] * cfg.flops_per_token() / peak
    for ref in ("torch", "numpy"):
        if "charlm" in rates and ref in rates:
            ratios = [a / b for a, b in zip(rates["charlm"], rates[ref])]
            row[f"ratio_{ref}"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    return row


def print_table(rows: list[dict], peak: float, threads: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Training/eval throughput, tokens/s, {threads} threads (median of rounds, [min-max])")
    for col in ("configuration", "charlm", "PyTorch", "charlm/PyTorch", "bar", "numpy", "charlm/numpy", "% of peak"):
        table.add_column(col, justify="left" if col == "configuration" else "right")

    def fmt(stat):
        return f"{stat['median']:,.0f} [{stat['min']:,.0f}-{stat['max']:,.0f}]" if stat else "-"

    def fmt_ratio(stat):
        return f"{stat['median']:.2f}x [{stat['min']:.2f}-{stat['max']:.2f}]" if stat else "-"

    for row in rows:
        bar = f">= {row['bar']}x" if row.get("bar") else "-"
        met = row.get("ratio_torch")
        if met and row.get("bar"):
            bar += " met" if met["median"] >= row["bar"] else " MISSED"
        table.add_row(
            row["label"],
            fmt(row.get("charlm")),
            fmt(row.get("torch")),
            fmt_ratio(row.get("ratio_torch")),
            bar,
            fmt(row.get("numpy")),
            fmt_ratio(row.get("ratio_numpy")),
            f"{100 * row['charlm_peak_fraction']:.0f}%" if "charlm_peak_fraction" in row else "-",
        )
    console = Console(width=None if sys.stdout.isatty() else 200)  # a file or pipe gets the whole table
    console.print(table)
    console.print(f"float32 matrix-multiply peak (numpy 2048x2048, {threads} threads): {peak / 1e9:,.0f} GFLOP/s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="configuration names: " + ", ".join(c.name for c in CONFIGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one timed round per engine")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-numpy", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or ()) - {c.name for c in CONFIGS})
    if unknown:  # an empty table would read as "nothing to report"
        parser.error(f"unknown configuration {', '.join(unknown)}; choose from {', '.join(c.name for c in CONFIGS)}")

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # inherited by the spawned workers before they import anything
    ctx = mp.get_context("spawn")
    torch_ok = not args.no_torch
    if torch_ok:
        try:
            import importlib.util

            torch_ok = importlib.util.find_spec("torch") is not None
        except ImportError:
            torch_ok = False
        if not torch_ok:
            print("torch is not installed: charlm and numpy only (pip install -e '.[bench]')", file=sys.stderr)

    configs = [c for c in CONFIGS if not args.only or c.name in args.only]
    peak = measure_peak(ctx)
    rows = []
    for cfg in configs:
        engines = ["charlm"] + (["torch"] if torch_ok else []) + (["numpy"] if numpy_has_engine(cfg) and not args.no_numpy else [])
        print(f"running {cfg.label()} ({', '.join(engines)})", file=sys.stderr)
        result = run_config(ctx, cfg, engines, args.threads, args.rounds, args.seconds)
        rows.append(summarize(cfg, result, peak))
    print_table(rows, peak, args.threads)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "peak_flops": peak, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
