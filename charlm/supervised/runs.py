"""A classifier's run folder (``--out``): ``best.npz`` and ``metrics.jsonl`` of a training run, or
``cv.json`` and ``metrics.jsonl`` of a cross-validation. Either family refuses to start over one
that holds a run, unless told ``--force``."""

from __future__ import annotations

import functools
from pathlib import Path

from ..store.runfolder import RunFolder

CV_SUMMARY = "cv.json"


def check_run_folder(path: Path, force: bool) -> RunFolder:
    """The run folder at ``path``, checked; writes nothing."""
    run = RunFolder(path, also=(CV_SUMMARY,), resumable=False)
    run.check(resume=False, force=force)
    return run


def unlocks_run_folder(function):
    """The run folder that ``run.create`` locked is unlocked when the training ends, however it ends."""
    @functools.wraps(function)
    def training(plan, *args, **kwargs):
        try:
            return function(plan, *args, **kwargs)
        finally:
            if plan.run is not None:
                plan.run.release()
    return training
