"""A classifier's run folder (``--out``): ``best.npz`` and ``metrics.jsonl`` of a training run, or
``cv.json`` and ``metrics.jsonl`` of a cross-validation. Either family refuses to start over one
that holds a run, unless told ``--force``."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..store.runfolder import RunFolder

CV_SUMMARY = "cv.json"


def check_run_folder(path: Path, force: bool) -> RunFolder:
    """The run folder at ``path``, checked; writes nothing."""
    run = RunFolder(path)
    if run.path.exists() and not run.path.is_dir():
        raise ConfigError(f"--out {run.path} is a file, not a folder")
    if (run.holds_a_run() or (run.path / CV_SUMMARY).exists()) and not force:
        raise ConfigError(f"{run.path} already holds a run; use --force to start over, or --out DIR")
    return run
