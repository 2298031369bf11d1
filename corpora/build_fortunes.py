#!/usr/bin/env python3
"""Rebuild ``fortunes.txt`` and ``LICENSE.fortunes`` from Debian's ``fortunes`` package.

    apt-get download fortunes=1:1.99.1-7.3
    python corpora/build_fortunes.py fortunes_1%3a1.99.1-7.3_all.deb

The output is byte for byte the committed file (see README.md for what each step does and why).
Standard library only. ``--out DIR`` writes somewhere else than this script's folder.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import tarfile
import unicodedata
from pathlib import Path

DEB_SHA256 = "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"  # fortunes_1:1.99.1-7.3_all.deb
DATA_DIR = "./usr/share/games/fortunes/"
COPYRIGHT = "./usr/share/doc/fortunes/copyright"
# Left out: pictures rather than text, and jokes built on national and regional stereotypes.
EXCLUDE = {"ascii-art", "ethnic"}

# Text that went through one or more rounds of "read UTF-8 as Latin-1, write as UTF-8": runs of
# characters U+0080..U+00FF whose Latin-1 bytes are well-formed UTF-8 sequences.
MOJIBAKE = re.compile("(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})+")
# Accent struck over a letter with a backspace (e'^He), as terminals of the time printed them.
ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", ",": "\u0327", "~": "\u0303"}


def ar_members(blob: bytes) -> dict[str, bytes]:
    """The members of an ``ar`` archive (a .deb is one)."""
    if not blob.startswith(b"!<arch>\n"):
        sys.exit("not a .deb (ar) archive")
    members, pos = {}, 8
    while pos + 60 <= len(blob):
        header = blob[pos : pos + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        members[name] = blob[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)
    return members


def unmojibake(text: str) -> str:
    def fix(m: re.Match) -> str:
        try:
            return m.group().encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return m.group()

    while (fixed := MOJIBAKE.sub(fix, text)) != text:
        text = fixed
    return text


def overstrike(line: str) -> str:
    """Render backspaces: underlining (_^Hx) and bold (x^Hx) keep the letter, an accent struck
    over a letter ('^He) becomes the accented letter (é)."""
    if "\b" not in line:
        return line
    cells: list[list[str]] = []
    pos = 0
    for ch in line:
        if ch == "\b":
            pos = max(pos - 1, 0)
            continue
        if pos < len(cells):
            cells[pos].append(ch)
        else:
            cells.append([ch])
        pos += 1
    out = []
    for cell in cells:
        chars = list(dict.fromkeys(c for c in cell if c != "_")) or ["_"]
        if len(chars) == 2 and chars[1] in ACCENTS:
            chars.reverse()
        if len(chars) == 2 and chars[0] in ACCENTS:
            chars = [unicodedata.normalize("NFC", chars[1] + ACCENTS[chars[0]])]
        if len(chars) != 1 or len(chars[0]) != 1:
            raise ValueError(f"cannot render overstruck {cell!r} in {line!r}")
        out.append(chars[0])
    return "".join(out)


def fortunes_of(text: str) -> list[str]:
    """The fortunes of one fortune file, cleaned; a line holding only % separates them."""
    lines = [overstrike(line.replace("\a", "")).rstrip() for line in unmojibake(text).split("\n")]
    found, current = [], []
    for line in lines + ["%"]:
        if line != "%":
            current.append(line)
            continue
        while current and not current[0]:
            current.pop(0)
        while current and not current[-1]:
            current.pop()
        if current:
            found.append("\n".join(current))
        current = []
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("deb", type=Path, help="fortunes_1%%3a1.99.1-7.3_all.deb")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()

    blob = args.deb.read_bytes()
    if (digest := hashlib.sha256(blob).hexdigest()) != DEB_SHA256:
        sys.exit(f"{args.deb}: sha256 {digest}, expected {DEB_SHA256} (fortunes 1:1.99.1-7.3)")
    data = next(v for k, v in ar_members(blob).items() if k.startswith("data.tar"))
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for info in tar.getmembers():
            if info.isfile() and (info.name == COPYRIGHT or info.name.startswith(DATA_DIR)):
                files[info.name] = tar.extractfile(info).read()

    seen, fortunes, per_file = set(), [], {}
    for name in sorted(files):
        stem = name[len(DATA_DIR) :]
        if not name.startswith(DATA_DIR) or stem.endswith(".dat") or stem in EXCLUDE:
            continue
        try:
            text = files[name].decode("utf-8")
        except UnicodeDecodeError:  # none in this version; older fortune files were Latin-1
            text = files[name].decode("latin-1")
        kept = 0
        for fortune in fortunes_of(text):
            key = " ".join(fortune.split())  # exact duplicates across files, up to white space
            if key not in seen:
                seen.add(key)
                fortunes.append(fortune)
                kept += 1
        per_file[stem] = kept

    # A fixed pseudo-random order (by content hash), so that any contiguous slice -- the last
    # --val-frac of the text is the validation split -- mixes all the files' topics.
    fortunes.sort(key=lambda f: hashlib.sha256(f.encode("utf-8")).hexdigest())
    corpus = "".join(f + "\n%\n" for f in fortunes)
    corpus = unicodedata.normalize("NFC", corpus)
    bad = sorted({c for c in corpus if not (c.isprintable() or c in "\t\n")})
    if bad:
        sys.exit(f"unexpected control characters left: {bad!r}")

    out = corpus.encode("utf-8")
    (args.out / "fortunes.txt").write_bytes(out)
    (args.out / "LICENSE.fortunes").write_bytes(files[COPYRIGHT])
    print(f"files: {len(per_file)} ({', '.join(f'{k} {v}' for k, v in per_file.items())})")
    print(f"fortunes: {len(fortunes)}")
    print(f"bytes: {len(out)}")
    print(f"characters: {len(corpus)}")
    print(f"lines: {corpus.count(chr(10))}")
    print(f"distinct characters: {len(set(corpus))}")
    print(f"non-ASCII characters: {''.join(sorted(c for c in set(corpus) if ord(c) > 127))}")
    print(f"sha256: {hashlib.sha256(out).hexdigest()}")


if __name__ == "__main__":
    main()
