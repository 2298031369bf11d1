"""Standard output or standard error that cannot be written (a full disk, a closed descriptor):
every command ends with one line on stderr (where stderr still works) and exit code 2, never a
traceback, and a run that fails before its first checkpoint leaves no run folder behind. A reader
that goes away (a broken pipe) still ends a command quietly with 0."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from charlm.classify.config import ClassifierConfig
from charlm.classify.models import build_classifier
from charlm.supervised.saved_model import save_classifier
from charlm.text.vocab import Vocab
from tests.helpers.classify_texts import TINY as CLASSIFY_TINY
from tests.helpers.classify_texts import write_labelled
from tests.helpers.cli import TINY, Result

WRITE_FAILED = "error: cannot write to standard output"


class Failing(io.TextIOBase):
    """A text stream whose every write fails with ``code`` (no descriptor of its own)."""

    def __init__(self, code: int):
        self.code = code

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(self.code, os.strerror(self.code))


def run_with(*args, stdout=None, stderr=None) -> Result:
    """charlm's main() in-process with sys.stdout/sys.stderr replaced (a StringIO where not given)."""
    from charlm.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_argv, code = sys.argv, 0
    sys.argv = ["charlm", *map(str, args)]
    try:
        with redirect_stdout(stdout or out), redirect_stderr(stderr or err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
    return Result(code, out.getvalue(), err.getvalue())


def failed_to_write(result: Result, stream="standard output") -> None:
    """Exit 2; the last line of stderr says which stream failed (before it, only charlm's notes)."""
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    *before, last = result.err.strip().splitlines() or [""]
    assert last.startswith(f"error: cannot write to {stream}: "), result.err
    assert all(line.startswith(("note: ", "Compiling ", "Waiting ")) for line in before), result.err


def commands(run, corpus):
    return {
        "sample": ["sample", run, "--length", 5, "--seed", 1],
        "info": ["info", run],
        "info --json": ["info", run, "--json"],
        "eval": ["eval", run, corpus, "--json"],
        "inspect --json": ["inspect", run, corpus, "--json", "--limit", 200],
    }


COMMANDS = ["sample", "info", "info --json", "eval", "inspect --json"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EBADF, errno.EIO])
@pytest.mark.parametrize("name", COMMANDS)
def test_a_stdout_that_cannot_be_written_is_one_line_and_exit_2(trained_run, name, code):
    _, corpus, run, _ = trained_run
    result = run_with(*commands(run, corpus)[name], stdout=Failing(code))
    failed_to_write(result)
    assert os.strerror(code) in result.err


@pytest.mark.parametrize("name", ["sample", "info"])
def test_a_reader_gone_away_still_ends_quietly(trained_run, name):
    _, corpus, run, _ = trained_run
    result = run_with(*commands(run, corpus)[name], stdout=Failing(errno.EPIPE))
    assert result.code == 0 and result.err == "", result.err


def test_a_stderr_that_cannot_be_written_keeps_the_exit_code_and_says_nothing(trained_run, tmp_path):
    _, _, run, _ = trained_run
    refused = run_with("info", tmp_path / "nothing-here", stderr=Failing(errno.ENOSPC))
    assert refused.code == 2 and refused.out == ""
    usage = run_with("info", run, "--no-such-option", stderr=Failing(errno.EBADF))
    assert usage.code == 2
    fine = run_with("info", run, "--json", stderr=Failing(errno.EBADF))  # writes nothing to stderr
    assert fine.code == 0 and '"step"' in fine.out


def test_a_train_that_fails_before_its_first_checkpoint_leaves_no_folder(trained_run, tmp_path):
    _, corpus, _, _ = trained_run
    out = tmp_path / "runs" / "deep" / "new"
    result = run_with("train", corpus, "--out", out, *TINY, "--max-steps", 3, stdout=Failing(errno.ENOSPC))
    failed_to_write(result)
    assert not (tmp_path / "runs").exists()  # nor the folders made above it


def test_a_folder_that_was_there_before_is_kept(trained_run, tmp_path):
    """charlm removes only what it made: an empty folder given as --out stays."""
    _, corpus, _, _ = trained_run
    (tmp_path / "mine").mkdir()
    result = run_with("train", corpus, "--out", tmp_path / "mine", *TINY, "--max-steps", 3, stdout=Failing(errno.ENOSPC))
    failed_to_write(result)
    assert (tmp_path / "mine").is_dir() and not any((tmp_path / "mine").iterdir())


def test_a_run_that_saved_a_checkpoint_is_kept(trained_run, tmp_path):
    """--quiet writes only the summary, after the last checkpoint: the run is whole and stays."""
    _, corpus, _, _ = trained_run
    out = tmp_path / "run"
    result = run_with("train", corpus, "--out", out, *TINY, "--max-steps", 3, "--quiet", stdout=Failing(errno.ENOSPC))
    failed_to_write(result)
    assert (out / "last.npz").is_file()


# ------------------------------------------------------------------ real processes, real descriptors
def charlm(*args, stdout=None, stderr=subprocess.PIPE, close=()) -> Result:
    """charlm in a process of its own; ``close``: descriptors closed in it before it starts (``>&-``)."""
    proc = subprocess.run([sys.executable, "-m", "charlm.cli", *map(str, args)], stdout=stdout, stderr=stderr,
                          preexec_fn=(lambda: [os.close(fd) for fd in close]) if close else None, timeout=300)
    return Result(proc.returncode, "", proc.stderr.decode() if stderr == subprocess.PIPE else "")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """An untrained Text-RNN checkpoint and a labelled file (eval and predict only read them)."""
    folder = tmp_path_factory.mktemp("classify")
    data = write_labelled(folder / "data.txt", 60, seed=1)
    vocab = Vocab.build_word(line.split("\t", 1)[1] for line in data.read_text(encoding="utf-8").splitlines())
    model = build_classifier(ClassifierConfig("textrnn", vocab_size=len(vocab), num_classes=2, embed_size=6, hidden_size=6))
    save_classifier(folder / "m.npz", model, vocab, ["neg", "pos"])
    return folder / "m.npz", data


@pytest.mark.slow  # a process per case, each loading numpy and the kernels (~3 s)
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) for a device that is always full")
@pytest.mark.parametrize("target", ["/dev/full", "closed"])
@pytest.mark.parametrize("name", [*COMMANDS, "train", "classify train", "classify eval", "classify predict"])
def test_every_command_with_a_full_or_closed_stdout(trained_run, classifier, tmp_path, name, target):
    _, corpus, run, _ = trained_run
    model, data = classifier
    out = tmp_path / "made" / "run"
    args = {
        **commands(run, corpus),
        "train": ["train", corpus, "--out", out, *TINY, "--max-steps", 3],
        "classify train": ["classify", "train", data, "--out", out, *CLASSIFY_TINY],
        "classify eval": ["classify", "eval", model, data],
        "classify predict": ["classify", "predict", model, data],
    }[name]
    if target == "closed":
        result = charlm(*args, close=(1,))
    else:
        with open(target, "w") as full:
            result = charlm(*args, stdout=full)
    failed_to_write(result)
    assert not (tmp_path / "made").exists()


@pytest.mark.slow  # processes
def test_a_closed_stderr(trained_run, tmp_path):
    _, _, run, _ = trained_run
    with open(tmp_path / "out.txt", "w") as out:
        fine = charlm("info", run, "--json", stdout=out, stderr=None, close=(2,))
    assert fine.code == 0 and '"step"' in (tmp_path / "out.txt").read_text()
    refused = charlm("info", tmp_path / "nothing-here", stdout=subprocess.DEVNULL, stderr=None, close=(2,))
    assert refused.code == 2
    with open("/dev/full", "w") as full:
        full_too = charlm("info", tmp_path / "nothing-here", stdout=subprocess.DEVNULL, stderr=full)
    assert full_too.code == 2
