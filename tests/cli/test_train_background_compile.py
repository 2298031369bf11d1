"""`charlm train` starts the background compile of the sampling kernels when training starts
(so the first `charlm sample` after a short run finds them compiled), and a compile that cannot
be started is a note: the training still ends well, and leaves no lock for `charlm sample`."""

from __future__ import annotations

import sys

import pytest

from charlm.lm.models import warmup
from charlm.lm.train.trainer import Trainer
from tests.helpers.cli import TINY, run_cli
from tests.helpers.texts import write_text


@pytest.fixture
def cold_sampling(tmp_path, monkeypatch):
    """A kernel cache where nothing is compiled yet (the training kernels load from Numba's
    own cache, quickly), background compiles on."""
    monkeypatch.setattr(warmup, "KERNEL_CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("CHARLM_BACKGROUND_COMPILE", "1")
    return tmp_path / "cache"


def train(tmp_path, capsys):
    corpus = write_text(tmp_path, 3_000)
    return run_cli(capsys, "train", corpus, "--out", tmp_path / "run", *TINY, "--max-steps", 2)


def test_the_compile_starts_before_the_training(cold_sampling, tmp_path, capsys, monkeypatch):
    events = []
    monkeypatch.setattr(warmup.subprocess, "Popen", lambda command, **kwargs: events.append("compile starts"))
    fit = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self: events.append("training starts") or fit(self))
    result = train(tmp_path, capsys)
    assert result.code == 0, result.err
    assert events == ["compile starts", "training starts"]


def test_a_compile_that_cannot_start_is_a_note(cold_sampling, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "removed" / "python3"  # the interpreter went away during the run
    monkeypatch.setattr(sys, "executable", str(missing))
    result = train(tmp_path, capsys)
    assert result.code == 0 and "Traceback" not in result.err + result.out, result.err
    assert "note: the sampling kernels could not be compiled in the background" in result.out, result.out
    assert (tmp_path / "run" / "last.npz").exists()
    assert not list(cold_sampling.glob("*.lock")) and not warmup.compile_running("lstm", "float32")
