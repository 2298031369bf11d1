"""The first sample after a short training run, through the user's own path, on a fresh kernel cache.

    python benchmarks/first_sample.py                          # one run of the charlm on sys.path
    python benchmarks/first_sample.py --max-time 60 --trees /work/main . --rounds 2

Each measurement points ``CHARLM_CACHE_DIR`` at an empty folder (a fresh machine), runs
``charlm train`` on the bundled corpus with ``--max-time`` (the default model), then launches
``charlm sample RUN --length 200`` and times it from the launch to its first sampled character on
stdout and to its end, then once more (every kernel compiled: what the machine's load alone
costs). With ``--trees A B`` the source trees take turns (A, B, A, B, ...: a noisy neighbour slows
both alike), each on ``PYTHONPATH``. Printed per measurement: the training's own tokens/s (its
summary line, validation included, and the median of its logged intervals), the first
character's and the whole sample's seconds, and whether the sample said it waited for or
compiled kernels. The bar: the first character within 3 seconds of the launch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR_FIRST_SAMPLE_S = 3.0


def measure(tree: str, max_time: str, threads: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="charlm-first-sample-") as tmp:
        env = {**os.environ, "CHARLM_CACHE_DIR": str(Path(tmp) / "cache"), "PYTHONPATH": str(Path(tree).resolve())}
        run = Path(tmp) / "run"
        command = [sys.executable, "-m", "charlm", "train", "--out", str(run), "--max-time", max_time]
        if threads is not None:
            command += ["--threads", str(threads)]
        started = time.monotonic()
        train = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp)
        train_s = time.monotonic() - started
        ended = time.time()
        markers = list((Path(tmp) / "cache").rglob(".compiled-sample-*"))
        # When the background compile ended, in seconds before the training did (negative: after)
        compiled_before_end_s = round(ended - markers[0].stat().st_mtime, 1) if markers else None
        if train.returncode != 0:
            raise SystemExit(f"charlm train failed ({tree}):\n{train.stderr[-2000:]}")
        rates = [row["tokens_per_s"] for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                 if row.get("tokens_per_s") and row.get("train_loss") is not None]
        summary = [re.findall(r"[\d,]+", line.split("tokens/s")[1]) for line in train.stdout.splitlines()
                   if "tokens/s" in line]
        first_s, total_s, err = _time_sample(run, env, tmp, tree)
        warm_s, _, _ = _time_sample(run, env, tmp, tree)  # the same again, every kernel compiled: the load's share
        return {"tree": tree, "train_s": round(train_s, 1), "compiled_before_end_s": compiled_before_end_s,
                "tokens_per_s_summary": summary[0][-1] if summary and summary[0] else None,
                "tokens_per_s_median": round(statistics.median(rates)) if rates else None,
                "first_sample_s": round(first_s, 2), "sample_s": round(total_s, 2), "warm_sample_s": round(warm_s, 2),
                "sample_said": " / ".join(line for line in err.splitlines() if "ompil" in line or "aiting" in line)}


def _time_sample(run: Path, env: dict, cwd: str, tree: str) -> tuple[float, float, str]:
    """Seconds from launching ``charlm sample RUN --length 200`` to its first character and to its
    end, and what it said on stderr."""
    started = time.monotonic()
    sample = subprocess.Popen([sys.executable, "-m", "charlm", "sample", str(run), "--length", "200"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    sample.stdout.read(1)
    first_s = time.monotonic() - started
    sample.stdout.read()
    err = sample.stderr.read().decode()
    sample.wait()
    if sample.returncode != 0:
        raise SystemExit(f"charlm sample failed ({tree}):\n{err[-2000:]}")
    return first_s, time.monotonic() - started, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-time", default="60", help="the training's --max-time (default 60 seconds)")
    parser.add_argument("--trees", nargs="+", default=[str(Path(__file__).resolve().parent.parent)],
                        help="source trees to measure in turn (default: this one)")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each tree")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = []
    for _ in range(args.rounds):
        for tree in args.trees:
            result = measure(tree, args.max_time, args.threads)
            results.append(result)
            print(f"{tree}: training {result['tokens_per_s_summary']} tok/s (summary), sampling kernels compiled "
                  f"{result['compiled_before_end_s']} s before it ended (None: not yet), "
                  f"{result['tokens_per_s_median']} tok/s (median interval); first sample character after "
                  f"{result['first_sample_s']} s, 200 characters in {result['sample_s']} s "
                  f"(a second sample: first character after {result['warm_sample_s']} s) "
                  f"[{result['sample_said'] or 'no compile message'}]", flush=True)
    for tree in args.trees:
        firsts = [r["first_sample_s"] for r in results if r["tree"] == tree]
        print(f"{tree}: first sample {statistics.median(firsts):.2f} s median of {len(firsts)} "
              f"(bar {BAR_FIRST_SAMPLE_S:.0f} s: {'met' if max(firsts) < BAR_FIRST_SAMPLE_S else 'not met'})")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
