"""Peak memory (RSS) of `charlm train` on a large generated corpus, against the same run on a small one.

    python benchmarks/memory.py                 # 100 MB corpus, the default model, 3 steps
    python benchmarks/memory.py --mb 1000       # 1 GB
    python benchmarks/memory.py --mb 200 --files 2000   # and the same 200 MB as a folder of 2,000 files

The corpus is the bundled one repeated to the size asked for, written to a temporary folder. Each
run is a separate `charlm train ... --max-steps 3` process; its peak resident set size comes from
the kernel (getrusage of the child). The small run (3 MB) measures what does not depend on the
corpus (interpreter, Numba and LLVM, compiled kernels, model, optimizer, workspaces); the
difference is what the corpus costs, reported as a multiple of its token array (one byte per
character for vocabularies of up to 256 characters). With ``--files N`` the large corpus is also
trained on as a folder of N files (a corpus of files, in subfolders of 100), which must stay within
the same bound.
"""

from __future__ import annotations

import argparse
import json
import os
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


def make_folder(folder: Path, size: int, n_files: int) -> None:
    """The same bytes as make_corpus, cut into n_files files (at line ends: each file is text)."""
    whole = folder.with_suffix(".txt")
    make_corpus(whole, size)
    data = whole.read_bytes()
    whole.unlink()
    at = 0
    for i in range(n_files):
        end = len(data) if i == n_files - 1 else data.find(b"\n", (i + 1) * len(data) // n_files) + 1 or len(data)
        path = folder / f"part{i // 100:03d}" / f"{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[at:end])
        at = end


def peak_rss_of_training(corpus: Path, out: Path, threads: int) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one training process."""
    command = [sys.executable, "-m", "charlm.cli", "train", str(corpus), "--out", str(out), "--force",
               "--max-steps", "3", "--val-frac", "0.001", "--quiet", "--threads", str(threads)]  # fmt: skip
    t0 = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest so far
    elapsed = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, command)
    return usage.ru_maxrss / 1024, elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=100, help="size of the large corpus in MB (10^6 bytes)")
    parser.add_argument("--files", type=int, default=0, help="also train on the large corpus as a folder of this many files")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="charlm-memory-") as folder:
        folder = Path(folder)
        runs = [("small", 3_000_000, 0), ("large", int(args.mb * 1e6), 0)]
        if args.files:
            runs.append((f"{args.files} files", int(args.mb * 1e6), args.files))
        for label, size, n_files in runs:
            corpus = folder / label.replace(" ", "-")
            if n_files:
                make_folder(corpus, size, n_files)
            else:
                corpus = corpus.with_suffix(".txt")
                make_corpus(corpus, size)
            rss, seconds = peak_rss_of_training(corpus, folder / f"run-{corpus.stem}", args.threads)
            rows.append({"corpus": label, "bytes": size, "files": max(n_files, 1), "peak_rss_mb": rss, "seconds": seconds})
            subprocess.run(["rm", "-rf", str(corpus)], check=True)

    small = rows[0]
    print(f"{'corpus':>11} {'bytes':>14} {'peak RSS':>10} {'wall':>8}")
    for r in rows:
        print(f"{r['corpus']:>11} {r['bytes']:>14,} {r['peak_rss_mb']:>8.0f} MB {r['seconds']:>6.1f} s")
    for r in rows[1:]:
        r["extra_mb"] = r["peak_rss_mb"] - small["peak_rss_mb"]
        token_array_mb = (r["bytes"] - small["bytes"]) / 2**20  # uint8 ids: one byte per character
        r["ratio"] = r["extra_mb"] / token_array_mb
        print(f"{r['corpus']}: the corpus costs {r['extra_mb']:.0f} MB for {token_array_mb:.0f} MB more token array: "
              f"{r['ratio']:.2f}x (bar: <= 2x)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
