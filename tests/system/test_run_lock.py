"""Two real `charlm train` processes on one run folder: while the first lives, a second `--resume`
(or a fresh run with `--force`) is refused at once, so the checkpoint and metrics.jsonl hold one
run's work, each step once; when the first ends, the run resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from tests.helpers.cli import TINY
from tests.helpers.texts import write_text
from tests.system.test_kill import start_training, wait_for


def test_a_second_process_is_refused_while_the_first_trains(tmp_path):
    corpus = write_text(tmp_path, 30_000)
    run = tmp_path / "run"
    first = start_training(corpus, run)
    try:
        wait_for(run / "last.npz", first)
        for extra in (["--resume"], ["--force"]):
            second = subprocess.run([sys.executable, "-m", "charlm.cli", "train", str(corpus), "--out", str(run),
                                     *map(str, TINY), "--max-steps", "1000000", "--quiet", *extra],
                                    capture_output=True, text=True, timeout=120)
            assert second.returncode == 2, second.stderr
            assert f"is in use: another charlm process {first.pid}" in second.stderr
            assert len(second.stderr.strip().splitlines()) == 1
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [(row["step"], row["val_loss"] is None) for row in rows]  # a training row and a validation per step
    assert logged and len(set(logged)) == len(logged)  # each once: one process's work
    steps = [step for step, _ in logged]
    resumed = subprocess.run([sys.executable, "-m", "charlm.cli", "train", str(corpus), "--out", str(run),
                              "--resume", "--max-steps", str(max(steps) + 2), "--quiet"],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert not (run / ".charlm.lock").exists()
