"""Run the charlm command in-process (fast) or as a real subprocess (signals, exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys, *args, cwd=None) -> Result:
    """charlm.cli.main() with sys.argv set; returns exit code and captured output."""
    from charlm.cli import main

    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = ["charlm", *map(str, args)]
    capsys.readouterr()
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(*args, cwd=None, timeout=120, env=None) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "charlm.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
