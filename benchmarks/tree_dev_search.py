"""A small grid search for a tree model's settings, chosen on the dev set only, through
``charlm classify train`` itself (one process per run, 1 thread each, ``--jobs`` at a time).

    python benchmarks/tree_dev_search.py ../shared/corpora/classification/sst-trees --model treernn \
        --classes 2 --grid l2=1e-4,3e-4,1e-3 hidden-size=25,30,50 --seeds 0 1 2 --jobs 2

Every combination of the grid's values is trained once per seed. The table ranks the combinations
by their mean dev root accuracy; the test accuracy of each run is printed beside it (the run saw
the test set only after training, once), and the winner is the row with the best dev mean, never
the best test. Socher et al. (2013) and Tai et al. (2015) chose their settings on dev the same way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor


def run_one(data: str, fixed: list[str], combo: dict, seed: int) -> dict:
    args = [sys.executable, "-m", "charlm", "classify", "train", data, *fixed, "--seed", str(seed),
            "--threads", "1", "--json", "--quiet"]
    for name, value in combo.items():
        args += [f"--{name}", value]
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(args + ["--out", out + "/run"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"run failed: {' '.join(args)}\n{done.stderr.strip()}")
    summary = json.loads(done.stdout)
    return {"dev": 100 * summary["dev_acc"], "test": 100 * summary["test_acc"],
            "test_all": 100 * summary["test_all_nodes_acc"], "epoch": summary["best_epoch"],
            "seconds": summary["elapsed_s"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("--model", required=True)
    parser.add_argument("--classes", default="5")
    parser.add_argument("--grid", nargs="+", default=[], help="option=v1,v2,... (option without its --)")
    parser.add_argument("--fixed", nargs=argparse.REMAINDER, default=[], help="further charlm options, last")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    names = [item.split("=", 1)[0] for item in args.grid]
    values = [item.split("=", 1)[1].split(",") for item in args.grid]
    combos = [dict(zip(names, chosen)) for chosen in itertools.product(*values)] or [{}]
    fixed = ["--model", args.model, "--classes", args.classes, *args.fixed]
    jobs = [(combo, seed) for combo in combos for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: run_one(args.data, fixed, *job), jobs))
    rows = []
    for i, combo in enumerate(combos):
        runs = results[i * len(args.seeds):(i + 1) * len(args.seeds)]
        rows.append((statistics.mean(r["dev"] for r in runs), combo, runs))
    rows.sort(key=lambda row: -row[0])
    print(f"{args.model}, {args.classes} classes, seeds {args.seeds}; fixed: {' '.join(fixed)}")
    print(f"{'settings':<40} {'dev mean':>8} {'test mean':>9} {'test sd':>7}  test per seed   all-node  epochs")
    for dev, combo, runs in rows:
        tests = [r["test"] for r in runs]
        sd = statistics.stdev(tests) if len(tests) > 1 else 0.0
        label = " ".join(f"{k}={v}" for k, v in combo.items()) or "(defaults)"
        print(f"{label:<40} {dev:8.2f} {statistics.mean(tests):9.2f} {sd:7.2f}  "
              f"{', '.join(f'{t:.2f}' for t in tests):<15} {statistics.mean(r['test_all'] for r in runs):8.2f}  "
              f"{','.join(str(r['epoch']) for r in runs)}")
    print(f"chosen on dev: {' '.join(f'--{k} {v}' for k, v in rows[0][1].items()) or '(defaults)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
