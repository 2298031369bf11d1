"""Text files read safely: in chunks of bytes, decoded incrementally, validated as they go.

A file that is missing, a folder, empty, binary (a NUL byte) or not in its encoding is a one-line
:class:`DataError` naming the path and, for bad bytes, the offset and line, with the fix. Nothing
here holds a whole corpus as one string: callers get chunks of text or of code points.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError, TextNote  # (TextNote: the notes' class, long imported from here)
from .codepoints import add_counts, codepoints

CHUNK_BYTES = 1 << 20  # bytes read and decoded at a time; working memory is a few times this
BOM = codecs.BOM_UTF8
# Encodings in which every byte below 0x80 is that ASCII character and nothing else: a pure-ASCII
# chunk needs no decoding (its bytes are its code points), and a NUL byte is a NUL character.
ASCII_FAST = frozenset({"utf-8", "utf-8-sig", "ascii", "iso8859-1", "cp1252", "iso8859-15"})


class EmptyText(DataError):
    """A file with nothing to learn from (empty, or only whitespace): in a corpus of many files
    it is skipped with a note, on its own it is refused."""


def check_encoding(encoding: str) -> codecs.CodecInfo:
    try:
        return codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r} (try utf-8, cp1252 or latin-1)") from None


def require_file(path) -> Path:
    """``path`` as a Path, if it names something that can be read more than once: DataError for
    ``-`` (standard input), a pipe (a FIFO, ``<(command)``, ``/dev/stdin`` fed by a pipe), a
    device or a socket, naming it. Checked without opening it, so a FIFO that nobody writes to
    is refused instead of waited on. A missing path or a folder is left to the caller."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is None and str(path) == "-":
        raise DataError("- (standard input) cannot be read here: charlm reads this text more than once; "
                        "save it to a file first (for example: command > text.txt) and give that file")
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        what = "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise DataError(f"{path} is {what}, not a file: charlm reads this text more than once, so it needs a "
                        "file; save the text to one first (for example: command > text.txt)")
    return path


def _open(path, once: bool = False) -> tuple[Path, object]:
    path = Path(path) if once else require_file(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a text file")
    try:
        return path, open(path, "rb")
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None


def _decode_error(path: Path, encoding: str, name: str, error: UnicodeDecodeError, offset: int, line: int,
                  is_file: bool = True) -> DataError:
    bad = error.object[error.start : error.end][:4].hex(" ")
    where = f"byte 0x{bad} at offset {offset} (line {line})"
    if not is_file:  # a stream: there is no file to convert
        return DataError(f"{path} is not valid {'UTF-8' if name in ('utf-8', 'utf-8-sig') else encoding}: {where}")
    if name in ("utf-8", "utf-8-sig"):
        fix = (
            f"if it is Windows/Latin-1 text, convert it (iconv -f cp1252 -t utf-8 {path} > {path.stem}.utf8.txt) "
            "or pass --encoding cp1252 (or latin-1)"
        )
        return DataError(f"{path} is not valid UTF-8: {where}; {fix}")
    return DataError(f"{path} is not valid {encoding}: {where}; check --encoding (latin-1 accepts any byte)")


def read_chunks(path, encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES, as_codepoints: bool = False,
                stream: BinaryIO | None = None, on_bytes=None, once: bool = False) -> Iterator:
    """The text of ``path`` in pieces: str, or with ``as_codepoints`` 1-D arrays of code points
    (uint8 for a pure-ASCII piece, else uint32). A UTF-8 byte-order mark is dropped. Raises
    DataError for a missing path, a folder, a NUL byte, bytes invalid in ``encoding`` (with
    their byte offset and line, right across chunk boundaries) and, once the end is reached,
    for a file that is empty or only whitespace. With ``stream`` (standard input, say), its
    bytes are read instead, under the name ``path``; it is left open. ``on_bytes`` is called with
    each block of bytes as read (e.g. a hash's ``update``). A pipe is refused by name (see
    :func:`require_file`) unless the caller reads the text ``once``."""
    if chunk_bytes < 4:
        raise ValueError(f"chunk_bytes must be at least 4 (a whole BOM or UTF-8 character), got {chunk_bytes}")
    info = check_encoding(encoding)
    name = info.name
    utf8 = name in ("utf-8", "utf-8-sig")
    # The UTF-8 BOM is skipped by hand so that error offsets stay plain byte offsets.
    decoder = codecs.getincrementaldecoder("utf-8")("strict") if utf8 else info.incrementaldecoder("strict")
    check_nul = not name.startswith(("utf-16", "utf-32"))  # there, NUL bytes are ordinary
    fast = name in ASCII_FAST
    path, file = (Path(str(path)), contextlib.nullcontext(stream)) if stream is not None else _open(path, once)
    offset = 0  # file offset of the chunk's first byte
    lines = 0  # newline bytes before it
    has_text = False
    bom = False
    with file as file:
        while True:
            raw = file.read(chunk_bytes)
            final = not raw
            if on_bytes is not None and raw:
                on_bytes(raw)
            if offset == 0 and utf8 and raw.startswith(BOM):
                raw, offset, bom = raw[len(BOM) :], len(BOM), True
            elif offset == 0 and utf8 and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                # Notepad's "Unicode": full of NUL bytes, but not binary
                raise DataError(
                    f"{path} is UTF-16 text (it starts with a UTF-16 byte-order mark); convert it "
                    f"(iconv -f utf-16 -t utf-8 {path} > {path.stem}.utf8.txt) or pass --encoding utf-16"
                )
            if check_nul and (nul := raw.find(b"\0")) >= 0:
                raise DataError(f"{path} looks binary: NUL byte at offset {offset + nul}; charlm reads plain text")
            if fast and not final and raw.isascii() and not _pending(decoder):
                piece = np.frombuffer(raw, np.uint8) if as_codepoints else raw.decode("ascii")
                has_text = has_text or (bool(raw) and not raw.isspace())
            else:
                pending = _pending(decoder)
                try:
                    text = decoder.decode(raw, final)
                except UnicodeDecodeError as error:
                    if not (final and utf8 and error.reason == "unexpected end of data"):
                        at = offset - pending + error.start
                        line = lines + 1 + raw[: max(0, at - offset)].count(b"\n")
                        raise _decode_error(path, encoding, name, error, at, line, stream is None) from None
                    # Only the very end is unfinished: the file was cut inside a character
                    # (`head -c`). Drop those bytes and say so; anything else invalid is refused.
                    text = ""
                    warnings.warn(TextNote(f"{path}: its last {pending} byte(s), from offset {offset - pending} (line "
                                           f"{lines + 1}), are an incomplete UTF-8 character (the file was cut "
                                           "short); they were dropped"), stacklevel=2)
                if offset == 0 and not utf8 and text.startswith("\ufeff"):
                    text = text[1:]  # a BOM that a non-UTF-8 codec leaves in
                has_text = has_text or (bool(text) and not text.isspace())
                piece = codepoints(text) if as_codepoints else text
            if len(piece):
                yield piece
            if final:
                break
            offset += len(raw)
            lines += raw.count(b"\n")
    if not has_text:
        if offset == 0 or (bom and offset == len(BOM)):
            raise EmptyText(f"{path} is empty{' (only a byte-order mark)' if bom else ''}")
        raise EmptyText(f"{path} holds only whitespace ({offset} bytes); charlm needs text to learn from")


def _pending(decoder) -> int:
    """Bytes an incremental decoder holds back from the previous chunk (a split character)."""
    try:
        return len(decoder.getstate()[0])
    except (AttributeError, TypeError):
        return 0


def read_text(path, encoding: str = "utf-8", *, chunk_bytes: int = CHUNK_BYTES, stream: BinaryIO | None = None) -> str:
    """The whole text of a file (or of ``stream``, named ``path``), validated (see
    :func:`read_chunks`). For small texts: a corpus goes through :func:`load_corpus`, which never
    holds it as one string. Read in one pass, so a pipe is read too."""
    return "".join(read_chunks(path, encoding, chunk_bytes, stream=stream, once=True))


def count_codepoints(path, encoding: str = "utf-8", *, chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """counts[c] = occurrences of code point c in the file (int64, as long as the largest + 1)."""
    total = np.zeros(0, np.int64)
    for points in read_chunks(path, encoding, chunk_bytes, as_codepoints=True):
        total = add_counts(total, np.bincount(points))
    return total


def word_lines(path, encoding: str, chunk_bytes: int) -> Iterator[str]:
    """Pieces of whole lines, each ending with a newline; an unterminated last line gets one
    (so it too ends with <eos>, as in pytorch/examples' data.py)."""
    carry: list[str] = []  # the unfinished line, in pieces (a long line is not copied per chunk)
    for text in read_chunks(path, encoding, chunk_bytes):
        cut = text.rfind("\n") + 1
        if cut:
            yield "".join(carry) + text[:cut]
            carry = []
        if cut < len(text):
            carry.append(text[cut:])
    if carry:
        yield "".join(carry) + "\n"


def file_size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # read_chunks reports the real problem
