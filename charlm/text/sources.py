"""Which files a corpus is made of, from what was named on the command line.

- one text file: the training text (validation is its tail, or --val);
- a folder holding ``train.txt`` (or ``ptb.train.txt``, ``ptb.char.train.txt``): a split folder;
- any other folder, or several paths (a shell glob): a *corpus of files*, every file in it
  (recursively, hidden ones left out, ``--glob`` to choose), in sorted order. Each file is one
  document: training resets the carried state where one ends and the next begins. A folder
  holding a charlm run (``charlm train .`` with ``--out`` inside it) is never part of a corpus:
  it is left out, with a note.

Nothing is read here but folder listings; ``lm/data/corpus.py`` reads the files.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .files import require_file

# The files by which a folder is known to hold a charlm run: its checkpoints (store/runfolder.py),
# and the lock of a run in progress, or of one killed before its first checkpoint (store/folder_lock.py).
RUN_MARKERS = ("last.npz", "best.npz", ".charlm.lock")

# Folder layouts understood as (train, valid, test), in order of preference. PTB's character files
# (symbols separated by spaces) are used only when the word files are absent.
SPLIT_NAMES = (
    ("train.txt", "valid.txt", "test.txt"),
    ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt"),
)


@dataclass
class Sources:
    name: str  # the file stem or folder name: the default run folder is runs/<name>
    kind: str  # "file", "splits" or "files"
    splits: dict[str, list[Path]] = field(default_factory=dict)  # split -> its files, in order
    names: dict[Path, str] = field(default_factory=dict)  # file -> the name messages give it
    notes: list[str] = field(default_factory=list)  # what the listing left out, to be said

    @property
    def many(self) -> bool:
        """A corpus of files: a bad one may be skipped, an empty one is skipped with a note."""
        return self.kind == "files"

    def label(self, path: Path) -> str:
        return self.names.get(path, str(path))


def _as_paths(paths) -> list[Path]:
    return [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else list(paths or ()))]


def corpus_name(paths) -> str:
    """The corpus's name (the default run folder is runs/<name>) without listing any folder: a
    file's stem, a folder's name, or the name of the folder several paths share."""
    paths = _as_paths(paths)
    if len(paths) == 1 and not paths[0].is_dir():
        return paths[0].stem
    return _name(paths)


def is_split_folder(path) -> bool:
    """A folder holding train.txt (or ptb.train.txt, ptb.char.train.txt)."""
    return isinstance(path, (str, os.PathLike)) and _split_names(Path(path)) is not None


def find_sources(paths, glob: str | None = None, val=None, test=None) -> Sources:
    """The corpus named by ``paths`` (one path, or several), plus explicit ``val``/``test`` files
    (which take precedence over a split folder's). DataError for a missing path, a folder with
    nothing to read, or a ``glob`` that cannot apply."""
    paths = _as_paths(paths)
    if not paths:
        raise DataError("no corpus given: pass a text file, a folder of text files, or a folder with train.txt, "
                        "valid.txt and test.txt")
    for path in [*paths, *(Path(p) for p in (val, test) if p is not None)]:
        require_file(path)  # read twice: a pipe is refused by name before it is waited on
    for path in paths:
        if not path.exists():
            raise DataError(f"no such file: {path}")
    if len(paths) == 1 and paths[0].is_file():
        if glob is not None:
            raise DataError(f"--glob chooses files in a folder; {paths[0]} is a file")
        sources = Sources(corpus_name(paths), "file", {"train": [paths[0]]})
    elif len(paths) == 1 and _split_names(paths[0]) is not None:
        sources = _split_folder(paths[0], glob)
    else:
        sources = _files(paths, glob)
    for split, given in (("val", val), ("test", test)):
        if given is not None:
            sources.splits[split] = [Path(given)]
    return sources


def _split_names(folder: Path):
    if not folder.is_dir():
        return None
    return next((n for n in SPLIT_NAMES if (folder / n[0]).is_file()), None)


def _split_folder(folder: Path, glob: str | None) -> Sources:
    names = _split_names(folder)
    if glob is not None:
        raise DataError(f"--glob chooses files in a corpus folder; {folder} is a split folder (it holds {names[0]})")
    splits = {split: [folder / n] for split, n in zip(("train", "val", "test"), names) if (folder / n).is_file()}
    return Sources(corpus_name([folder]), "splits", splits)


def _files(paths: list[Path], glob: str | None) -> Sources:
    files: list[Path] = []
    names: dict[Path, str] = {}
    runs: list[Path] = []  # folders left out because they hold a charlm run
    for path in paths:
        if path.is_dir():
            if _split_names(path) is not None and len(paths) > 1:
                raise DataError(f"{path} is a split folder (it holds {_split_names(path)[0]}): give it on its own")
            if len(paths) > 1 and is_run_folder(path):
                runs.append(path)
                continue
            had = len(runs)
            found = walk(path, glob, runs)
            if not found and len(paths) > 1 and len(runs) > had:
                continue  # a folder of runs (`charlm train *` beside runs/)
            if not found:
                what = f"no file matching --glob {glob!r}" if glob else "no files"
                raise DataError(f"{path} holds {what} (hidden files and folders, and folders holding a charlm run, "
                                "are left out)")
            for file in found:
                names[file] = str(file.relative_to(path)) if len(paths) == 1 else str(file)
            files.extend(found)
        else:
            if glob is not None and not fnmatch.fnmatch(path.name, glob):
                continue  # a file named beside folders is chosen by --glob too
            files.append(path)
    seen = set()
    for file in files:
        key = file.resolve()
        if key in seen:
            raise DataError(f"{file} is named twice: each file can be in the corpus once")
        seen.add(key)
    if not files:
        raise DataError(f"none of the {len(paths)} paths given is a file matching --glob {glob!r}")
    notes = [f"{len(runs)} folder(s) holding a charlm run left out of the corpus: "
             f"{', '.join(str(r) for r in runs[:10])}{' and more' if len(runs) > 10 else ''}"] if runs else []
    return Sources(corpus_name(paths), "files", {"train": files}, names, notes)


def is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a charlm run (a checkpoint, or a run's lock) by the files' names."""
    return any((folder / name).is_file() for name in RUN_MARKERS)


def walk(folder: Path, glob: str | None = None, runs: list[Path] | None = None) -> list[Path]:
    """Every file under ``folder`` (symbolic links to files included, hidden names and the
    folders that hold a charlm run left out: those are added to ``runs``) whose name matches
    ``glob`` (or, for a pattern with a '/', whose path inside the folder does), sorted by that
    path."""
    found = []
    for root, dirs, filenames in os.walk(folder):
        kept = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            if is_run_folder(Path(root) / d):
                if runs is not None:
                    runs.append(Path(root) / d)
                continue
            kept.append(d)
        dirs[:] = kept
        for filename in filenames:
            if filename.startswith("."):
                continue
            path = Path(root) / filename
            inside = path.relative_to(folder).as_posix()
            if glob is not None and not fnmatch.fnmatch(inside if "/" in glob else filename, glob):
                continue
            if path.is_file():
                found.append((inside, path))
    return [path for _, path in sorted(found)]


def _name(paths: list[Path]) -> str:
    """A folder's name; for several paths, the name of the folder they share."""
    if len(paths) == 1:
        return paths[0].resolve().name or "corpus"
    common = Path(os.path.commonpath([p.resolve() for p in paths]))
    if common.is_file():
        common = common.parent
    return common.name or "corpus"
