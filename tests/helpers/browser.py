"""A real browser for the pages charlm writes: Debian's headless Chromium, where installed (CI has
none: the tests that need it skip, saying so)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium)"


def rendered_dom(page: Path, fragment: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, opened at ``page.html#fragment``."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom"]
    return subprocess.run([CHROMIUM, *flags, page.as_uri() + "#" + fragment], capture_output=True, text=True,
                          timeout=120).stdout


def shown_tip(dom: str) -> str | None:
    """The inner HTML of an inspect page's token box, if its script showed it."""
    tip = re.search(r'<div id="tip" style="display: block;[^>]*>(.*?)</div>', dom, re.S)
    return None if tip is None else tip.group(1)
