"""charlm's end-to-end memory network language model (lm/memory_model.py) against the same model in
PyTorch (benchmarks/memn2n_reference.py), training on the CPU, side by side, in one run.

    python benchmarks/memn2n_speed.py                      # 2 threads, 5 rounds of ~3 s each
    python benchmarks/memn2n_speed.py --threads 1 --rounds 7 --json out.json
    python benchmarks/memn2n_speed.py --torch-compile      # PyTorch through torch.compile (~30 s more)

The configuration is the paper's (Sukhbaatar et al. 2015, section 5, and charlm's memn2n recipe):
V = 10,000 words, 150 units (75 linear), 6 hops over a memory of 100 words, 128 targets per step
(charlm: a window of 1 step x 128 streams, each stream's carried memory full), float32, and a
whole SGD step: forward, backward, clipping the gradient's norm at 50/128, update. Input and
memory ids are drawn by Zipf's law (p(rank r) ~ 1/r) as words are, the same for both engines,
which also start from the same weights.

As in benchmarks/throughput.py (the harness: benchmarks/alternating.py), each engine runs in its own worker process pinned to the same
number of threads, is warmed up first (Numba compiles or loads its cache on the first call),
then the timed rounds alternate (charlm, torch, charlm, torch, ...) so a noisy neighbour slows
both alike. Reported: targets per second per engine (median over rounds, [min-max]) and the
ratio charlm/PyTorch computed per round from adjacent rounds (median, [min-max]).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from alternating import alternate, serve, steps  # noqa: E402  (the alternating rounds' harness)


@dataclass
class Config:
    V: int = 10_000
    D: int = 150
    M: int = 100
    K: int = 6
    linear_units: int = 75
    N: int = 128  # targets (streams) per step
    lr: float = 0.01 * 128  # the authors' 0.01 on the summed loss, on charlm's mean loss
    clip: float = 50 / 128
    batches: int = 8  # distinct windows cycled through

    def label(self) -> str:
        return (f"memn2n V={self.V:,} D={self.D} ({self.linear_units} linear) M={self.M} K={self.K} "
                f"batch {self.N}, SGD")


def cpu_model() -> str:
    """The model name, with family and model numbers (a VM may name only "AMD EPYC")."""
    try:
        fields = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        if "model name" in fields:
            return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def make_data(cfg: Config):
    """(windows [(x (1, N), y (1, N))], the streams' first memories (N, M)): Zipf-drawn ids."""
    import numpy as np

    rng = np.random.default_rng(0)
    weights = 1.0 / (1.0 + np.arange(cfg.V))
    draw = lambda shape: rng.choice(cfg.V, size=shape, p=weights / weights.sum())  # noqa: E731
    windows = [(draw((1, cfg.N)), draw((1, cfg.N))) for _ in range(cfg.batches)]
    return windows, draw((cfg.N, cfg.M))


def initial_weights(cfg: Config) -> dict:
    """charlm's initialisation (every weight N(0, 0.05^2), drawn in its parameter order, seed 0),
    so both engines start from the same weights."""
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = {"memory.A": (cfg.V, cfg.D), "memory.T_A": (cfg.M, cfg.D), "memory.C": (cfg.V, cfg.D),
              "memory.T_C": (cfg.M, cfg.D), "hop.H": (cfg.D, cfg.D), "decoder.weight": (cfg.V, cfg.D)}
    return {name: rng.normal(0.0, 0.05, shape).astype(np.float32) for name, shape in shapes.items()}


# ---------------------------------------------------------------------------------- engines
class CharlmEngine:
    def __init__(self, cfg: Config):
        import numpy as np

        from charlm.core.optim import clip_grad_norm, make_optimizer
        from charlm.lm.config import ModelConfig
        from charlm.lm.models.memory import MemoryLanguageModel

        config = ModelConfig(vocab_size=cfg.V, model="memn2n", hidden_size=cfg.D, memory=cfg.M, hops=cfg.K,
                             linear_units=cfg.linear_units)
        self.model = MemoryLanguageModel(config, np.float32, seed=0)
        for name, array in initial_weights(cfg).items():
            self.model.params[name][...] = array
        self.opt = make_optimizer("sgd", self.model.store, cfg.lr)
        self.clip, self.cfg = clip_grad_norm, cfg
        self.windows, memory = make_data(cfg)
        self.state = [(memory,)]

    def step(self, i: int) -> float:
        x, y = self.windows[i % len(self.windows)]
        loss, self.state = self.model.train_step(x, y, self.state)
        self.clip(self.model.store.grad, self.cfg.clip)
        self.opt.step()
        return float(loss)


class TorchEngine:
    def __init__(self, cfg: Config, threads: int, compile: bool = False):
        import torch

        from memn2n_reference import TorchMemN2N, load_charlm_params

        torch.set_num_threads(threads)
        self.torch, self.cfg = torch, cfg
        self.model = TorchMemN2N(cfg.V, cfg.D, cfg.M, cfg.K, cfg.linear_units, dtype=torch.float32)
        load_charlm_params(self.model, initial_weights(cfg))
        self.params = list(self.model.parameters())
        # Eager by default, as a PyTorch user trains; torch.compile (Inductor's generated C++) is
        # the option, compiled during the warm-up.
        self.loss_fn = torch.compile(self.model) if compile else self.model
        self.opt = torch.optim.SGD(self.params, lr=cfg.lr)
        windows, memory = make_data(cfg)
        self.windows = [(torch.from_numpy(x).view(cfg.N, 1), torch.from_numpy(y).view(cfg.N)) for x, y in windows]
        self.carried = torch.from_numpy(memory)

    def step(self, i: int) -> float:
        torch = self.torch
        x, y = self.windows[i % len(self.windows)]
        # The memory of a window of one step: the new input, then all but the oldest carried id
        # (charlm builds it inside train_step, so it is timed here too).
        ctx = torch.cat([x, self.carried[:, :-1]], dim=1)
        self.carried = ctx
        loss = self.loss_fn(ctx, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip)
        self.opt.step()
        return loss.item()


# ---------------------------------------------------------------------------------- workers
def _worker(conn, engine_name: str, cfg_dict: dict, threads: int, compile: bool) -> None:
    cfg = Config(**cfg_dict)
    sys.path.insert(0, str(ROOT))
    if engine_name == "charlm":
        from charlm.core.threads import set_threads

        set_threads(threads)  # before the kernels are imported
        engine = CharlmEngine(cfg)
    else:
        engine = TorchEngine(cfg, threads, compile)
    # The warm-up's first losses are printed for both engines: the same weights and data give the same.
    serve(conn, steps(engine.step), lambda: {"first_losses": [engine.step(i) for i in range(3)]}, calibrate_s=0.5)


def run(ctx, cfg: Config, engines: list[str], threads: int, rounds: int, seconds: float, compile: bool) -> dict:
    args = {name: (asdict(cfg), threads, compile) for name in engines}
    return alternate(ctx, _worker, args, rounds, seconds, per_unit=cfg.N)


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}


def report(cfg: Config, result: dict, threads: int, compile: bool) -> dict:
    from rich.console import Console
    from rich.table import Table

    rates, info = result["rates"], result["info"]
    row = {name: stats(values) for name, values in rates.items()}
    if "torch" in rates:
        row["ratio"] = stats([a / b for a, b in zip(rates["charlm"], rates["torch"])])
    table = Table(title=f"MemN2N training throughput, targets/s, {threads} thread{'s' * (threads != 1)} (median of {len(rates['charlm'])} "
                        "rounds, \\[min-max])")
    torch_name = "PyTorch (torch.compile)" if compile else "PyTorch"
    for col in ("configuration", "charlm", torch_name, f"charlm/{torch_name}"):
        table.add_column(col, justify="left" if col == "configuration" else "right")

    def fmt(stat):
        return f"{stat['median']:,.0f} [{stat['min']:,.0f}-{stat['max']:,.0f}]" if stat else "-"

    ratio = row.get("ratio")
    table.add_row(cfg.label(), fmt(row["charlm"]), fmt(row.get("torch")),
                  f"{ratio['median']:.2f}x [{ratio['min']:.2f}-{ratio['max']:.2f}]" if ratio else "-")
    console = Console(width=None if sys.stdout.isatty() else 200)  # a file or pipe gets the whole table
    console.print(table)
    for name, engine_info in info.items():
        losses = ", ".join(f"{v:.6f}" for v in engine_info["first_losses"])
        console.print(f"{name}: warm-up {engine_info['warmup_s']:.1f} s; first steps' losses {losses}")
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed round per engine")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-compile", action="store_true", help="run PyTorch's model through torch.compile")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # inherited by the spawned workers before they import anything
    import importlib.util

    torch_ok = not args.no_torch and importlib.util.find_spec("torch") is not None
    if not args.no_torch and not torch_ok:
        print("torch is not installed: charlm only (pip install -e '.[bench]')", file=sys.stderr)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    cfg = Config()
    engines = ["charlm"] + (["torch"] if torch_ok else [])
    print(f"running {cfg.label()} ({', '.join(engines)})", file=sys.stderr)
    result = run(mp.get_context("spawn"), cfg, engines, args.threads, args.rounds, args.seconds, args.torch_compile)
    row = report(cfg, result, args.threads, args.torch_compile)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "torch_compile": args.torch_compile,
                                         "config": asdict(cfg), "cpu": cpu_model(),
                                         "info": result["info"], **row}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
