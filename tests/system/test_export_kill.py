"""`charlm export` killed at random moments while it writes: the two files it leaves are always
one export (the previous one or the new one, told apart by the id both carry), and the hidden
temporaries a kill leaves are removed by the next export. Real processes, killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the onnx package is not installed (pip install -e '.[test]')")

from charlm.cli.export import step_path  # noqa: E402
from charlm.lm.config import ModelConfig  # noqa: E402
from charlm.lm.export.pair import check_pair  # noqa: E402
from charlm.lm.models.recurrent import RecurrentLanguageModel  # noqa: E402
from charlm.lm.models.saved import save_model  # noqa: E402
from charlm.text.vocab import Vocab  # noqa: E402

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("POSIX signals", allow_module_level=True)

KILLS = 8


def export_process(checkpoint, target) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "charlm.cli", "export", str(checkpoint), str(target), "--force"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


@pytest.mark.slow  # ten export processes, each importing onnx and writing two 20 MB graphs
def test_export_killed_while_writing_leaves_one_whole_pair_and_the_next_export_cleans_up(tmp_path):
    vocab = Vocab.build_char("abcdefghij klmnop\n")
    # Big enough that writing the graphs takes a good part of the process's life.
    model = RecurrentLanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=640, layers=2), seed=0)
    checkpoint = tmp_path / "model.npz"
    save_model(checkpoint, model, vocab)
    target = tmp_path / "out" / "model.onnx"
    target.parent.mkdir()
    first = export_process(checkpoint, target)
    assert first.wait(timeout=120) == 0, first.stderr.read().decode()
    ids = {check_pair(target, step_path(target))}
    rng = np.random.default_rng(0)
    left_by_kills = 0
    for _ in range(KILLS):
        proc = export_process(checkpoint, target)
        deadline = time.monotonic() + 120
        while not temporaries(target.parent) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)  # until it starts writing
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Whenever it died, the two files are one export: the one before it, or its own.
        ids.add(check_pair(target, step_path(target)))
        left_by_kills += len(temporaries(target.parent))
    assert left_by_kills > 0  # the kills did land while writing
    last = export_process(checkpoint, target)
    assert last.wait(timeout=120) == 0, last.stderr.read().decode()
    ids.add(check_pair(target, step_path(target)))
    assert temporaries(target.parent) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx", "model.step.onnx"]
    print(f"{KILLS} kills; temporaries they left: {left_by_kills}; exports seen whole: {len(ids)}")

