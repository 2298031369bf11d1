"""Sampling through an exported model: onnxruntime's step graph (the loop of
examples/onnx_sample.py: one session.run per character, softmax and a draw in numpy) against
`charlm sample`'s jitted loop, the same char LSTM (256x2, V=65, random weights: speed does not
depend on them), batch 1, 1 thread each, in one process, rounds interleaved in time.

    python benchmarks/onnx_sampling.py               # 5 rounds of 2,000 characters
    python benchmarks/onnx_sampling.py --rounds 7 --chars 5000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

V, H, L = 65, 256, 2


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--rounds", type=int, default=5)
    args.add_argument("--chars", type=int, default=2000)
    args.add_argument("--json", default=None)
    a = args.parse_args()

    import onnxruntime as ort

    from charlm.core.threads import set_threads
    from charlm.lm.config import ModelConfig
    from charlm.lm.models.recurrent import RecurrentLanguageModel
    from charlm.lm.export.onnx_graphs import build_onnx_model
    from charlm.lm.generate.sampler import Sampler
    from charlm.text.vocab import Vocab

    set_threads(1)
    vocab = Vocab([chr(c) for c in range(48, 48 + V)], "char")
    model = RecurrentLanguageModel(ModelConfig(vocab_size=V, hidden_size=H, layers=L), np.float32, seed=0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(build_onnx_model(model, vocab, step=True).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    sampler = Sampler(model, seed=0)
    sampler.prime([0])
    rng = np.random.default_rng(0)

    def charlm_run(n: int) -> None:
        for _ in sampler.generate(n):
            pass

    def onnx_run(n: int) -> None:
        state = {"h0": np.zeros((L, 1, H), np.float32), "c0": np.zeros((L, 1, H), np.float32)}
        token = 0
        for _ in range(n):
            logits, h, c = session.run(None, {"token": np.array([token], np.int64), **state})
            state = {"h0": h, "c0": c}
            z = logits[0].astype(np.float64)
            p = np.exp(z - z.max())
            token = int(rng.choice(V, p=p / p.sum()))

    charlm_run(200), onnx_run(200)  # warm-up: kernels compiled, sessions initialised
    rates = {"charlm": [], "onnxruntime": []}
    for _ in range(a.rounds):
        for name, run in (("charlm", charlm_run), ("onnxruntime", onnx_run)):
            begin = time.perf_counter()
            run(a.chars)
            rates[name].append(a.chars / (time.perf_counter() - begin))
    ratios = [c / o for c, o in zip(rates["charlm"], rates["onnxruntime"])]
    report = {"machine": platform.processor() or platform.machine(), "model": f"lstm {H}x{L}, V={V}",
              "chars_per_round": a.chars, "rounds": a.rounds,
              "charlm_chars_per_s": statistics.median(rates["charlm"]),
              "onnxruntime_chars_per_s": statistics.median(rates["onnxruntime"]),
              "ratio_charlm_over_onnxruntime": statistics.median(ratios)}
    print(f"{'engine':<14}{'chars/s (median)':>18}{'min':>10}{'max':>10}")
    for name, values in rates.items():
        print(f"{name:<14}{statistics.median(values):>18,.0f}{min(values):>10,.0f}{max(values):>10,.0f}")
    print(f"charlm / onnxruntime: {report['ratio_charlm_over_onnxruntime']:.2f}x (median of {a.rounds} adjacent pairs)")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
