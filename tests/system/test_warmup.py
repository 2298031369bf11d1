"""The first `charlm sample` after the first `charlm train` finds its kernels compiled: training
compiles them in a low-priority background process (lm/warmup.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.helpers.texts import write_text

TINY = ["--hidden-size", "8", "--layers", "1", "--seq-len", "8", "--batch-size", "4", "--max-steps", "2", "--quiet"]


def test_training_leaves_the_sampling_kernels_compiled_for_the_first_sample(tmp_path):
    cache = tmp_path / "cache"  # cold: nothing of this cell and dtype is compiled yet
    env = {**os.environ, "CHARLM_CACHE_DIR": str(cache), "CHARLM_BACKGROUND_COMPILE": "1"}
    corpus = write_text(tmp_path, 3_000)
    command = [sys.executable, "-m", "charlm", "train", str(corpus), "--out", str(tmp_path / "run"), "--cell", "gru", *TINY]
    trained = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert trained.returncode == 0, trained.stderr
    # The background compile outlives the training; its lock goes when it is done.
    deadline = time.monotonic() + 300
    while any(p.name.endswith(".lock") for p in cache.rglob(".compiled-*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    markers = [p.name for p in cache.rglob(".compiled-sample-*")]
    assert markers == [".compiled-sample-gru-float32"], markers
    sample = subprocess.run([sys.executable, "-m", "charlm", "sample", str(tmp_path / "run"), "--length", "20",
                             "--prime", "Th"], capture_output=True, text=True, env=env, timeout=300)
    assert sample.returncode == 0, sample.stderr
    assert "Compiling" not in sample.stderr, sample.stderr


def test_no_background_compile_when_it_is_switched_off_or_already_done(tmp_path, monkeypatch):
    monkeypatch.setenv("CHARLM_CACHE_DIR", str(tmp_path / "cache"))
    code = (
        "import os, sys\n"
        "from charlm.lm.models import warmup\n"
        "os.environ['CHARLM_BACKGROUND_COMPILE'] = '0'\n"
        "off = warmup.compile_sampling_in_background('lstm', 'float32')\n"
        "os.environ['CHARLM_BACKGROUND_COMPILE'] = '1'\n"
        "warmup.mark_compiled('sample', 'lstm', 'float32')\n"
        "done = warmup.compile_sampling_in_background('lstm', 'float32')\n"
        "print(off, done)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
