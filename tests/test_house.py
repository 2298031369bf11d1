"""The house's layers (CONTRIBUTING.md): imports point down only, and the light layers never load
Numba. Read from the source with ``ast``, so a new module is checked the day it is added."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.paths import PACKAGE

# Higher number = higher layer. A module may import its own layer and any lower one.
LAYERS = {"errors": 0, "settings": 0, "core": 1, "text": 1, "store": 2, "supervised": 3,
          "lm": 4, "classify": 4, "trees": 4, "cli": 5}
# Pairs that share a rank but must not see each other.
APART = {("core", "text"), ("text", "core"), ("lm", "classify"), ("classify", "lm"),
         ("classify", "trees"), ("trees", "classify"), ("lm", "trees"), ("trees", "lm")}
MAX_LINES = 360


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield path, parts


def _layer(parts) -> str | None:
    top = parts[0]
    return top if top in LAYERS else None


def _imported(path: Path, parts):
    """The charlm modules ``path`` imports, as tuples of names below ``charlm``."""
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = (*base, *(node.module.split(".") if node.module else ()))
            elif node.module and node.module.split(".")[0] == "charlm":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            yield node.lineno, target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "charlm":
                    yield node.lineno, tuple(alias.name.split(".")[1:])


def test_every_import_points_to_the_same_or_a_lower_layer():
    wrong = []
    for path, parts in _modules():
        here = _layer(parts)
        if here is None:
            continue
        for line, target in _imported(path, parts):
            there = _layer(target) if target else None
            if there is None or there == here:
                continue
            if LAYERS[there] > LAYERS[here] or (here, there) in APART:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} ({here}) imports {'.'.join(target)} ({there})")
    assert not wrong, "\n".join(wrong)


def test_the_cell_table_imports_nothing_of_charlm_or_numpy():
    tree = ast.parse((PACKAGE / "core" / "cells.py").read_text(encoding="utf-8"))
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {(n.module or "") if isinstance(n, ast.ImportFrom) else n.names[0].name for n in imported}
    assert names <= {"__future__", "dataclasses"}, names


def test_no_module_is_longer_than_the_house_allows():
    long = [f"{p.relative_to(PACKAGE)}: {n}" for p, _ in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, long


LIGHT_IMPORTS = """
import sys, time
started = time.perf_counter()
import charlm.lm.config, charlm.text.vocab, charlm.text.files, charlm.store.checkpoint, charlm.cli
from charlm.cli import app
for command in ([], ["train"], ["sample"], ["eval"], ["info"], ["classify"], ["classify", "train"]):
    try:
        app([*command, "--help"], prog_name="charlm")
    except SystemExit:
        pass
print("numba" in sys.modules, time.perf_counter() - started, file=sys.stderr)
"""


def test_the_configuration_vocabulary_and_every_help_page_load_without_numba():
    proc = subprocess.run([sys.executable, "-c", LIGHT_IMPORTS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded, seconds = proc.stderr.split()
    assert loaded == "False", "numba was imported"
    # Well under a second on these machines; generous here so a loaded CI machine does not flake.
    assert float(seconds) < 5, seconds


@pytest.mark.skipif(sys.platform == "win32", reason="timing of a POSIX process start")
def test_charlm_help_answers_quickly():
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "charlm", "--help"], capture_output=True, text=True, timeout=60)
    took = time.perf_counter() - started
    assert proc.returncode == 0 and "train" in proc.stdout
    assert took < 5, f"charlm --help took {took:.2f} s"


def _import_graph() -> dict[tuple, set[tuple]]:
    """Module -> the charlm modules it imports anywhere in it (inside functions and under
    TYPE_CHECKING too: a circle through a type hint is still a circle)."""
    modules = {parts[:-1] if parts[-1] == "__init__" else parts: path for path, parts in _modules()}

    def module_of(target: tuple) -> tuple | None:
        while target and target not in modules:  # "from .x import name": the module is x
            target = target[:-1]
        return target if target in modules else None

    graph = {}
    for name, path in modules.items():
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "charlm"):
                if node.level:
                    package = parts[:-1]
                    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                    target = (*base, *(node.module.split(".") if node.module else ()))
                else:
                    target = tuple(node.module.split(".")[1:])
                found |= {m for alias in node.names if (m := module_of((*target, alias.name))) is not None}
            elif isinstance(node, ast.Import):
                found |= {m for alias in node.names if alias.name.split(".")[0] == "charlm"
                          and (m := module_of(tuple(alias.name.split(".")[1:]))) is not None}
        graph[name] = found - {name}
    return graph


def test_no_module_imports_itself_through_others():
    graph = _import_graph()
    circles = []

    def visit(module, path):
        for target in sorted(graph[module]):
            if target in path:
                circles.append(" -> ".join(".".join(m) or "charlm" for m in path[path.index(target):] + [target]))
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    done: set = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert not circles, "\n".join(circles)


def test_a_model_kind_is_named_in_the_table_of_kinds_only():
    """Code decides by asking the kind's entry (models/kinds.py), never by comparing its name."""
    from charlm.lm.models.kinds import KINDS

    table = PACKAGE / "lm" / "models" / "kinds.py"
    named = []
    for path, _ in _modules():
        if path == table:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in KINDS:
                named.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
    assert not named, named


def test_code_never_decides_by_a_cells_name():
    """What a cell needs is a property of its row in core/cells.py; its name may appear only in the
    tables keyed by it (the cell table, the step dispatch, the ONNX mapping) and as a default."""
    from charlm.core.cells import CELLS

    tables = {PACKAGE / "core" / "cells.py", PACKAGE / "core" / "kernels" / "cell_steps.py",
              PACKAGE / "lm" / "export" / "onnx_graphs.py"}
    named = []
    for path, _ in _modules():
        if path in tables:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for side in (node.left, *node.comparators):
                    values = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                    named += [f"{path.relative_to(PACKAGE)}:{node.lineno} {v.value!r}" for v in values
                              if isinstance(v, ast.Constant) and v.value in CELLS]
    assert not named, named
