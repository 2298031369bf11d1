"""A run folder: ``last.npz`` (latest state, for resuming), ``best.npz`` (lowest validation
loss), ``metrics.jsonl`` (one JSON object per logged interval and per validation), and the
hidden ``.charlm.lock`` that the process training there holds (``folder_lock.py``).

A folder holds a run when it holds a checkpoint that charlm wrote: files of those names that are
not charlm's (a ``metrics.jsonl`` of the user's own) are named, never taken for a run."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from . import folder_lock
from .atomic import remove_stale_temporaries, write_text_atomically
from .checkpoint import is_checkpoint
from ..errors import CharlmError, ConfigError

RUNS_ROOT = Path("runs")


class RunFolder:
    def __init__(self, path: Path, *, also: tuple[str, ...] = (), resumable: bool = True):
        """``also``: other files a run of this kind writes (a classifier's cv.json), which make a
        run too; ``resumable``: whether the refusal of an existing run offers --resume."""
        self.path = Path(path)
        self.last = self.path / "last.npz"
        self.best = self.path / "best.npz"
        self.metrics = self.path / "metrics.jsonl"
        self.also = tuple(self.path / name for name in also)
        self.resumable = resumable
        self._made: list[Path] = []  # the folders create() made, deepest first

    def holds_a_run(self) -> bool:
        """A checkpoint charlm wrote (or a file in ``also``) is there."""
        return any(is_checkpoint(p) for p in (self.last, self.best) if p.is_file()) or any(p.exists() for p in self.also)

    def found(self) -> list[Path]:
        """The files of a run's names that are there, charlm's or not."""
        return [p for p in (self.last, self.best, self.metrics, *self.also) if p.exists()]

    def prepare(self, *, resume: bool, force: bool) -> None:
        """check() then create()."""
        self.check(resume=resume, force=force)
        self.create(resume=resume, force=force)

    def check(self, *, resume: bool, force: bool) -> None:
        """Refuse what --resume/--force do not allow. Writes nothing."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"--out {self.path} is a file, not a folder")
        if resume:
            if not self.last.exists():
                raise ConfigError(f"nothing to resume: {self.last} does not exist")
            return
        found = self.found()
        if not found or force:
            return
        if self.holds_a_run():
            resume_hint = "use --resume to continue it, " if self.resumable else "use "
            raise ConfigError(f"{self.path} already holds a run; {resume_hint}--force to start over, or --out DIR")
        names = ", ".join(p.name for p in found)
        them = "it" if len(found) == 1 else "them"
        raise ConfigError(f"{self.path} holds {names} but no checkpoint that charlm wrote, so no run to continue; "
                          f"a new run would write over {them}: move {them}, choose another --out, "
                          f"or add --force to replace {them}")

    def create(self, *, resume: bool, force: bool) -> None:
        """Make the folder (checking that it is writable), lock it for this process (refusing a
        folder another process trains in; :meth:`release` unlocks it), check it again now that
        no other run can start there, and clear what --force replaces."""
        missing = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._made = missing
            probe = self.path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise CharlmError(f"cannot write to run folder {self.path}: {exc.strerror or exc}") from None
        folder_lock.claim(self.path)
        try:
            if not resume:
                self.check(resume=False, force=force)  # a run that ended since the first check
        except BaseException:
            self.release()
            raise
        remove_stale_temporaries(self.path)
        if force and not resume:
            for path in (self.last, self.best, self.metrics, *self.also):
                path.unlink(missing_ok=True)

    def release(self) -> None:
        """Unlock the folder (the end of a run in this process)."""
        folder_lock.release(self.path)

    def discard_if_unused(self) -> None:
        """Remove the folder again if create() made it and it holds nothing but the metrics log (a
        run that failed before its first checkpoint leaves no empty run behind); with the folders
        create() made above it, if they are empty. Anything else in it keeps it."""
        self.release()  # the run has ended, one way or another
        if not self._made or not self.path.is_dir():
            return
        remove_stale_temporaries(self.path)  # a write the failure cut short
        if any(path != self.metrics for path in self.path.iterdir()):
            return
        self.metrics.unlink(missing_ok=True)
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or gone): what is in it is not ours
        self._made = []

    def append_metrics(self, row: dict) -> None:
        try:
            with self.metrics.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        except OSError as exc:
            raise CharlmError(f"cannot write {self.metrics}: {exc.strerror or exc}") from None

    def read_metrics(self) -> list[dict]:
        if not self.metrics.exists():
            return []
        rows = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
        return rows

    def write_json(self, name: str, value) -> None:
        """Replace the file ``name`` in the run folder with ``value`` as JSON, atomically."""
        path = self.path / name
        try:
            write_text_atomically(path, json.dumps(value, indent=1) + "\n")
        except OSError as exc:
            raise CharlmError(f"cannot write {path}: {exc.strerror or exc}") from None

    def truncate_metrics(self, after_step: int) -> None:
        """On resume, drop what was logged after the checkpoint (it will be logged again)."""
        rows = [r for r in self.read_metrics() if r.get("step", 0) <= after_step]
        try:
            write_text_atomically(self.metrics, "".join(json.dumps(r) + "\n" for r in rows))
        except OSError as exc:
            raise CharlmError(f"cannot write {self.metrics}: {exc.strerror or exc} (it is unchanged)") from None


@contextmanager
def discarded_on_failure(run: RunFolder | None):
    """Run the body; if it fails in any way (an error, Ctrl-C, a failed write to the terminal),
    :meth:`RunFolder.discard_if_unused` first."""
    try:
        yield
    except BaseException:
        if run is not None:
            run.discard_if_unused()
        raise


def latest_run(root: Path = RUNS_ROOT) -> Path | None:
    """The run folder under ``root`` whose checkpoint was written most recently."""
    candidates = [p for p in root.glob("*/*.npz") if p.name in ("last.npz", "best.npz")] if root.is_dir() else []
    if not candidates:
        return None
    return max(candidates, key=lambda p: p.stat().st_mtime).parent


def resolve_checkpoint(model: Path | None) -> Path:
    """A run folder means its best.npz (else last.npz); a file is itself; None is the latest run."""
    if model is None:
        found = latest_run()
        if found is None:
            raise CharlmError(f"no model given and no run found under {RUNS_ROOT}/; train one with `charlm train`")
        model = found
    model = Path(model)
    if model.is_dir():
        for name in ("best.npz", "last.npz"):
            if (model / name).exists():
                return model / name
        raise CharlmError(f"{model} holds no checkpoint (best.npz or last.npz)")
    if not model.exists():
        raise CharlmError(f"no such model: {model}")
    return model
