"""Where compiled kernels are cached: a user-writable folder whatever the install or HOME looks
like, and never machine code compiled from other sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import charlm
from charlm.core.kernels import _jit

PROBE = """
import json, numpy as np
from charlm.core.kernels import KERNEL_CACHE_DIR, tensor
table = np.arange(12, dtype=np.float32).reshape(3, 4)
out = np.zeros((2, 4), np.float32)
tensor.gather_rows(table, np.array([2, 0], np.int32), out)  # compiles or loads: must work whatever the folder
print(json.dumps({"dir": str(KERNEL_CACHE_DIR), "ok": bool((out == table[[2, 0]]).all())}))
"""


def probe(env: dict, cwd=None) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("CHARLM_CACHE_DIR", "XDG_CACHE_HOME", "HOME")}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_an_unusable_home_falls_back_to_a_per_user_temporary_folder(tmp_path):
    # HOME is a file, so ~/.cache cannot be created (works as root, unlike chmod).
    fake_home = tmp_path / "home-is-a-file"
    fake_home.write_text("")
    (tmp_path / "tmp").mkdir()
    result = probe({"HOME": str(fake_home), "TMPDIR": str(tmp_path / "tmp")}, cwd=tmp_path)
    assert result["ok"]
    assert Path(result["dir"]).is_relative_to(tmp_path / "tmp")
    assert Path(result["dir"]).is_dir()


def test_charlm_cache_dir_wins_and_xdg_cache_home_is_respected(tmp_path):
    explicit = probe({"CHARLM_CACHE_DIR": str(tmp_path / "explicit"), "HOME": str(tmp_path)})
    assert Path(explicit["dir"]).parent == tmp_path / "explicit"
    xdg = probe({"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)})
    assert Path(xdg["dir"]).parent == tmp_path / "xdg" / "charlm"


def test_a_read_only_install_still_runs(tmp_path):
    """A copy of the package in a read-only folder runs, and caches its kernels in the user's
    folder, never beside the sources. (Root ignores the mode bits, so as root this proves where
    the cache goes rather than that writing beside the sources would fail.)"""
    install = tmp_path / "site"
    shutil.copytree(Path(charlm.__file__).parent, install / "charlm", ignore=shutil.ignore_patterns("__pycache__"))
    for path in sorted(install.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    install.chmod(0o555)
    try:
        result = probe({"PYTHONPATH": str(install), "CHARLM_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)})
    finally:
        for path in [install, *install.rglob("*")]:
            path.chmod(0o755)
    assert result["ok"]
    assert Path(result["dir"]).is_relative_to(tmp_path / "cache")
    assert not list(install.rglob("*.nbi"))  # nothing cached beside the sources (anywhere in the package)


def test_the_cache_folder_changes_when_a_kernel_source_changes(tmp_path, monkeypatch):
    """Numba alone checks only the decorated file's timestamp; charlm keys its folder by the hash
    of every kernel source, so edited or upgraded kernels never load stale machine code."""
    copy = tmp_path / "kernels"
    shutil.copytree(Path(_jit.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_jit, "__file__", str(copy / "_jit.py"))
    before = _jit._sources_digest()
    with open(copy / "tensor.py", "a") as f:
        f.write("\n# an edit\n")
    assert _jit._sources_digest() != before
    assert _jit.KERNEL_CACHE_DIR.name.startswith("kernels-")
