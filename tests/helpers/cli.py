"""Run the charlm command in-process (fast) or as a real subprocess (signals, exit codes)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass


# A character model small enough to train in seconds through the CLI.
TINY = ["--hidden-size", 32, "--layers", 1, "--seq-len", 32, "--batch-size", 8, "--lr", 0.01]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys, *args, cwd=None) -> Result:
    """charlm.cli.main() with sys.argv set; returns exit code and captured output. Output is
    captured by swapping sys.stdout/sys.stderr (rich resolves them when it prints), so this works
    outside a test too, in session fixtures; ``capsys`` is accepted for the call sites' symmetry."""
    from charlm.cli import main

    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = ["charlm", *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(*args, cwd=None, timeout=120, env=None) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "charlm.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def tree(folder) -> dict:
    """Every file under folder with its bytes: the "nothing on disk changed" check."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(result: Result, *fragments: str) -> None:
    """A refusal as charlm promises it: a non-zero exit, one line on stderr naming each fragment,
    no traceback."""
    assert result.code not in (0, None), result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err
