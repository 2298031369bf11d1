"""Where the tests find the repository's own folders and the shared corpora beside it (a user's
clone has no ``../shared``: tests that read it fall back to bundled data or skip, saying why)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "charlm"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
