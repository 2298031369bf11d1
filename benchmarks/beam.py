"""Beam search speed: characters per second of `charlm sample --beam K` at K = 1, 4, 16 on the
char LSTM 256x2 (V=65, random weights: speed does not depend on them), beside plain sampling
(the same model, one stream) from the same process, 1 thread, medians of rounds.

    python benchmarks/beam.py                      # 5 rounds of 1,000 characters
    python benchmarks/beam.py --rounds 7 --chars 2000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

V, H, L = 65, 256, 2
BEAMS = (1, 4, 16)


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--rounds", type=int, default=5)
    args.add_argument("--chars", type=int, default=1000)
    args.add_argument("--json", default=None)
    a = args.parse_args()

    from charlm.core.threads import set_threads
    from charlm.lm.generate.beam import beam_search
    from charlm.lm.config import ModelConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.lm.generate.sampler import Sampler

    set_threads(1)
    model = RecurrentLanguageModel(ModelConfig(vocab_size=V, hidden_size=H, layers=L), np.float32, seed=0)
    prime = np.array([0, 1, 2], np.int64)
    sampler = Sampler(model, seed=0)
    sampler.prime(prime)

    def sample_run(n: int) -> None:
        for _ in sampler.generate(n):
            pass

    runs = {"sample": sample_run}
    for k in BEAMS:
        runs[f"beam {k}"] = lambda n, k=k: beam_search(model, beam=k, length=n, prime_ids=prime)
    for run in runs.values():
        run(50)  # warm-up: kernels compiled
    rates = {name: [] for name in runs}
    for _ in range(a.rounds):
        for name, run in runs.items():
            begin = time.perf_counter()
            run(a.chars)
            rates[name].append(a.chars / (time.perf_counter() - begin))
    base = statistics.median(rates["sample"])
    print(f"{'engine':<10}{'chars/s (median)':>18}{'min':>10}{'max':>10}{'vs sample':>11}")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"{name:<10}{med:>18,.0f}{min(values):>10,.0f}{max(values):>10,.0f}{med / base:>10.2f}x")
    if a.json:
        report = {"machine": platform.processor() or platform.machine(), "model": f"lstm {H}x{L}, V={V}",
                  "chars": a.chars, "rounds": a.rounds, "chars_per_s": {n: statistics.median(v) for n, v in rates.items()}}
        with open(a.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
