"""Peak memory (RSS) of `charlm train` on a large generated corpus, against the same run on a small one.

    python benchmarks/memory.py                 # 100 MB corpus, the default model, 3 steps
    python benchmarks/memory.py --mb 1000       # 1 GB

The corpus is the bundled one repeated to the size asked for, written to a temporary folder. Each
run is a separate `charlm train ... --max-steps 3` process; its peak resident set size comes from
the kernel (getrusage of the child). The small run (3 MB) measures what does not depend on the
corpus (interpreter, Numba and LLVM, compiled kernels, model, optimizer, workspaces); the
difference is what the corpus costs, reported as a multiple of its token array (one byte per
character for vocabularies of up to 256 characters).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_corpus(path: Path, size: int) -> None:
    from charlm.text.bundled import bundled_corpus_path

    source = bundled_corpus_path().read_bytes()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            piece = source[: size - written]
            f.write(piece)
            written += len(piece)


def peak_rss_of_training(corpus: Path, out: Path, threads: int) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one training process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    command = [sys.executable, "-m", "charlm.cli", "train", str(corpus), "--out", str(out), "--force",
               "--max-steps", "3", "--val-frac", "0.001", "--quiet", "--threads", str(threads)]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: run the small corpus first.
    return max(after, before) / 1024, elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=100, help="size of the large corpus in MB (10^6 bytes)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="charlm-memory-") as folder:
        folder = Path(folder)
        for label, size in (("small", 3_000_000), ("large", int(args.mb * 1e6))):
            corpus = folder / f"{label}.txt"
            make_corpus(corpus, size)
            rss, seconds = peak_rss_of_training(corpus, folder / f"run-{label}", args.threads)
            rows.append({"corpus": label, "bytes": size, "peak_rss_mb": rss, "seconds": seconds})
            corpus.unlink()

    small, large = rows
    extra = large["peak_rss_mb"] - small["peak_rss_mb"]
    token_array_mb = (large["bytes"] - small["bytes"]) / 2**20  # uint8 ids: one byte per character
    print(f"{'corpus':>8} {'bytes':>14} {'peak RSS':>10} {'wall':>8}")
    for r in rows:
        print(f"{r['corpus']:>8} {r['bytes']:>14,} {r['peak_rss_mb']:>8.0f} MB {r['seconds']:>6.1f} s")
    print(f"the corpus costs {extra:.0f} MB for {token_array_mb:.0f} MB more token array: "
          f"{extra / token_array_mb:.2f}x (bar: <= 2x)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "extra_mb": extra, "ratio": extra / token_array_mb}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
