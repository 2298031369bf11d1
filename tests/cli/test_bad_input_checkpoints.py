"""Checkpoints that lie, through the commands that read them (info, sample, eval, train --resume):
one line naming the file and the lie, a non-zero exit, no traceback (a MemoryError or a numpy
broadcast error before), and nothing on disk changed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.helpers.cli import refused, run_cli, tree
from tests.helpers.forged import claim_shape, forge


def _huge_weight(path):
    claim_shape(path, "param/encoder.weight", (10**12,))


def _huge_weight_2d(path):
    claim_shape(path, "param/rnn.weight_hh_l0", (10**6, 10**6))


def _huge_meta(path):
    claim_shape(path, "__meta__", (10**12,))


def _meta(change):
    def forge_in_place(path):
        forge(path, path, meta=change)
    return forge_in_place


def _arrays(change):
    def forge_in_place(path):
        forge(path, path, arrays=change)
    return forge_in_place


def _set(key, name, value):
    return _meta(lambda meta: meta[key].__setitem__(name, value))


def _replace(name, make):
    return _arrays(lambda arrays: arrays.__setitem__(name, make(arrays[name])))


LIES = {
    "huge-weight": (_huge_weight, "param/encoder.weight.npy declares 1,000,000,000,000 values of float32 (4.0 TB) but holds"),
    "huge-weight-2d": (_huge_weight_2d, "param/rnn.weight_hh_l0.npy declares 1,000,000,000,000 values of float32"),
    "huge-meta": (_huge_meta, "__meta__.npy declares 1,000,000,000,000 values of uint8 (1.0 TB) but holds"),
    "int-weight": (_replace("param/decoder.bias", lambda a: np.arange(a.size)),
                   "parameter decoder.bias is int64 of shape ("),  # the shape: the test corpus's vocabulary
    "complex-weight": (_replace("param/encoder.weight", lambda a: a.astype(np.complex64)),
                       "parameter encoder.weight is complex64"),
    "negative-hidden-size": (_set("model", "hidden_size", -32), "model: hidden_size must be a positive integer, got -32"),
    "string-hidden-size": (_set("model", "hidden_size", "32"), "model: hidden_size must be an integer, not a string '32'"),
    "string-linear-units": (_set("model", "linear_units", "16"), "model: linear_units must be an integer or null"),
    "no-vocab": (_meta(lambda meta: meta.pop("vocab")), "'vocab' is missing"),
    "string-epochs": (_set("train", "epochs", "2"), "train: epochs must be an integer, not a string '2'"),
    "string-step": (_set("progress", "step", "9"), "progress: step must be an integer, not a string '9'"),
    "bad-state": (_replace("state/0/0", lambda a: a[:3]), "the carried state state/0/0 is float32 of shape (3, 32)"),
    "bad-moment": (_replace("optim/v", lambda a: a[:7]), "the optimizer's moment optim/v is float32 of shape (7,)"),
}


@pytest.fixture
def lying_run(trained_run, tmp_path):
    """A copy of the shared run, whose last.npz is about to be forged, and the run's corpus."""
    run = tmp_path / "run"
    shutil.copytree(trained_run[2], run)
    (run / "best.npz").unlink()  # so that a command given the folder reads last.npz
    return run, trained_run[1]


@pytest.mark.slow  # 3.8 s warm on 2 cores (measured with --durations): too slow for the inner loop
@pytest.mark.parametrize("lie", list(LIES))
@pytest.mark.parametrize("command", ["info", "info --json", "sample", "eval", "train --resume"])
def test_a_lying_checkpoint_is_refused_by_every_command(lying_run, capsys, command, lie):
    run, corpus = lying_run
    tell, expected = LIES[lie]
    tell(run / "last.npz")
    before = tree(run)
    args = {
        "info": ["info", run / "last.npz"],
        "info --json": ["info", run / "last.npz", "--json"],
        "sample": ["sample", run / "last.npz", "--length", 10, "--seed", 1],
        "eval": ["eval", run / "last.npz", corpus],
        "train --resume": ["train", corpus, "--out", run, "--resume", "--quiet"],
    }[command]
    result = run_cli(capsys, *args)
    refused(result, str(run / "last.npz"), expected)
    assert tree(run) == before
