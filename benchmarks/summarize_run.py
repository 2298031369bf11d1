"""Summarise a run folder's metrics.jsonl as a Markdown table, for docs/results.md.

    python benchmarks/summarize_run.py runs/ptb-small [--word-chars 5.6]

One row per validation (epoch, step, learning rate, validation loss, perplexity, bits per token,
elapsed wall time, tokens per second at that point) and the test line when the run has one. The
metrics file is the evidence; this keeps the published summary small.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def summarize(run: Path) -> str:
    metrics = rows(run)
    out = ["| epoch | step | lr | val loss | val ppl | val bits/token | elapsed | tokens/s |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rates = [r["tokens_per_s"] for r in metrics if r.get("tokens_per_s")]
    for r in metrics:
        if r.get("val_loss") is None:
            continue
        loss = r["val_loss"]
        rate = r.get("tokens_per_s")
        out.append(f"| {r['epoch']} | {r['step']} | {r['lr']:.4g} | {loss:.4f} | {math.exp(loss):.1f} | "
                   f"{loss / math.log(2):.3f} | {r['elapsed_s'] / 60:.1f} min | {rate or 0:,.0f} |")
    tests = [r for r in metrics if r.get("test_loss") is not None]
    if tests:
        t = tests[-1]
        out.append("")
        out.append(f"test (best model): loss {t['test_loss']:.4f}, perplexity {t['test_perplexity']:.1f}, "
                   f"{t['test_bits_per_token']:.3f} bits/token")
    if rates:
        rates.sort()
        out.append(f"training speed: median {rates[len(rates) // 2]:,.0f} tokens/s over {len(rates)} logged intervals")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    args = parser.parse_args(argv)
    print(summarize(args.run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
