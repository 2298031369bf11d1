"""The corpus that ships with charlm: ``charlm train`` with no file trains on it.

It is the top-level ``corpora/`` folder of the source tree, installed as the package
``charlm.corpora`` (see ``pyproject.toml``; provenance and licence in ``corpora/README.md``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import DataError

BUNDLED_CORPUS = "fortunes.txt"
BUNDLED_PACKAGE = "charlm.corpora"


def _candidates() -> list[Path]:
    found = []
    try:
        resource = resources.files(BUNDLED_PACKAGE) / BUNDLED_CORPUS
    except ModuleNotFoundError:
        pass  # an editable install made before charlm.corpora existed, or a bare checkout on sys.path
    else:
        # Installed as plain files (a wheel, an editable install), the resource is a real path;
        # inside a zip archive it would not be, and is skipped rather than extracted to a temp file.
        if isinstance(resource, Path):
            found.append(resource)
    # A source checkout: corpora/ beside the charlm/ package folder.
    found.append(Path(__file__).resolve().parent.parent / "corpora" / BUNDLED_CORPUS)
    return found


def bundled_corpus_path() -> Path:
    """A real filesystem path to the bundled corpus (``fortunes.txt``).

    Raises :class:`DataError` when this installation lacks it (a broken or hand-made install)."""
    candidates = _candidates()
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise DataError(
        f"the bundled corpus {BUNDLED_CORPUS} is missing from this installation (looked in {tried}); "
        "reinstall charlm, or pass a text file to train on"
    )
