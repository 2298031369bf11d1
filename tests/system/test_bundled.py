"""The bundled corpus: present, valid, the file that corpora/README.md describes, and packaged."""

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from charlm.text.bundled import bundled_corpus_path
from tests.helpers.paths import REPO

ROOT = REPO
README = ROOT / "corpora" / "README.md"


def readme_figures() -> dict[str, str]:
    """The rows of the table under '## Figures' in corpora/README.md."""
    section = README.read_text(encoding="utf-8").split("## Figures", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| `?([^|`]+?)`? \|$", section, flags=re.MULTILINE)
    return {key: value for key, value in rows if key != "figure" and not set(key) <= set("-")}


@pytest.fixture(scope="module")
def corpus() -> bytes:
    return bundled_corpus_path().read_bytes()


def test_bundled_corpus_is_a_real_file():
    path = bundled_corpus_path()
    assert path.is_absolute() and path.is_file() and path.name == "fortunes.txt"
    assert (path.parent / "LICENSE.fortunes").is_file(), "the BSD licence must travel with the corpus"


def test_a_missing_corpus_is_a_clear_error(monkeypatch):
    import charlm.text.bundled
    from charlm.errors import DataError

    monkeypatch.setattr(charlm.text.bundled, "BUNDLED_CORPUS", "no-such-corpus.txt")
    with pytest.raises(DataError, match="bundled corpus no-such-corpus.txt is missing"):
        bundled_corpus_path()


def test_found_through_the_installed_package():
    assert importlib.util.find_spec("charlm.corpora") is not None, (
        "charlm.corpora is not importable: this environment's charlm install predates the corpus "
        "mapping in pyproject.toml; run `pip install -e .` again"
    )
    from importlib import resources

    assert bundled_corpus_path() == Path(str(resources.files("charlm.corpora") / "fortunes.txt"))


def test_valid_utf8_and_non_trivial(corpus):
    text = corpus.decode("utf-8")  # strict: raises on any invalid byte
    assert len(corpus) > 1_000_000
    assert "\x00" not in text and "\r" not in text
    assert not {c for c in text if not (c.isprintable() or c in "\t\n")}
    assert text.endswith("\n%\n"), "every fortune, the last one too, ends with a % line"
    assert text.count("\n%\n") > 10_000


def test_matches_the_figures_in_the_readme(corpus):
    figures = readme_figures()
    text = corpus.decode("utf-8")
    assert hashlib.sha256(corpus).hexdigest() == figures["sha256"]
    assert len(corpus) == int(figures["size (bytes)"])
    assert len(text) == int(figures["characters"])
    assert text.count("\n") == int(figures["lines"])
    assert len(set(text)) == int(figures["distinct characters"])
    assert text.count("\n%\n") == int(figures["fortunes"])


def test_the_wheel_holds_the_corpus_and_nothing_else(tmp_path):
    """Build a wheel from a copy of the sources: the corpus and its licence are inside, as the
    package charlm.corpora, along with every charlm subpackage; tests and benchmarks are not."""
    setuptools = pytest.importorskip("setuptools")
    version = tuple(int(part) for part in re.findall(r"\d+", setuptools.__version__)[:2])
    if version < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.skip("building a wheel offline needs setuptools >= 70.1 (or the wheel package)")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    readme = ROOT / "README.md"  # pyproject's readme; a stand-in while the checkout has none
    (src / "README.md").write_text(readme.read_text(encoding="utf-8") if readme.is_file() else "charlm\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("charlm", "corpora"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "-w", str(tmp_path / "wheel"), str(src)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "wheel").glob("charlm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    corpus = bundled_corpus_path()
    for name in ("fortunes.txt", "LICENSE.fortunes", "README.md", "__init__.py"):
        assert f"charlm/corpora/{name}" in names
    packages = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "charlm").rglob("__init__.py")}
    assert {f"{p}/__init__.py" for p in packages} <= names, "a subpackage is missing from pyproject's packages"
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"charlm"}, tops
    with zipfile.ZipFile(wheel) as whl:
        assert whl.read("charlm/corpora/fortunes.txt") == corpus.read_bytes()
