"""The one boundary where errors become what a user sees: a CharlmError, Ctrl-C or a usage error
turns into one line on stderr and an exit code. Every command runs under :func:`user_errors`;
:func:`run_app` maps what Click raises, and a write to standard output or error that fails
(``streams.py``: a full disk, a closed descriptor, a reader gone away), whichever command wrote."""

from __future__ import annotations

import sys
import time
import warnings
from contextlib import contextmanager

import typer

from ..errors import CharlmError
from ..text.files import TextNote
from .streams import CommandConsole, OutputFailed, flush_streams, guarded_streams, silence

# Typer 0.2x vendors Click: its usage errors derive from typer.TyperException; older Typers raise
# Click's own ClickException. Exit and Abort are typer's names for Click's in either case.
if hasattr(typer, "TyperException"):
    UsageError = typer.TyperException
else:  # pragma: no cover - Typer before it vendored Click
    from click import ClickException as UsageError

err = CommandConsole(stderr=True, highlight=False, soft_wrap=True)  # one message, one line: never wrapped

# The exit code of a command whose output could not be written (a full disk, a closed stdout):
# as for any other file charlm cannot write (CharlmError's).
OUTPUT_FAILED_CODE = CharlmError.exit_code


def say(message: str) -> None:
    """One line on stderr, or nothing where stderr itself cannot be written (``2>&-``, a full
    disk): the exit code still tells."""
    try:
        err.print(message, markup=False, soft_wrap=True)
    except OutputFailed as exc:
        silence(exc.stream)


@contextmanager
def user_errors():
    """Turn the errors a user can cause into one line on stderr and an exit code, and the notes
    about the input (text/files.TextNote) into one ``note:`` line each, once."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", TextNote)
            usual, said = warnings.showwarning, set()

            def show(message, category, *args, **kwargs):
                if issubclass(category, TextNote):
                    if str(message) not in said:  # a file read twice (vocabulary, then ids): one note
                        said.add(str(message))
                        err.print(f"note: {message}", markup=False, soft_wrap=True)
                else:  # anything else keeps Python's usual display
                    usual(message, category, *args, **kwargs)

            warnings.showwarning = show
            yield
    except CharlmError as exc:
        fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def fail(message: str, code: int):
    group = _mpi_group()
    if group is None:
        say(message)
        raise typer.Exit(code) from None
    # Several processes. Most errors (a bad option, Ctrl-C) happen on every rank at once: then
    # rank 0 says it and all end as one process would. An error of one rank alone must take the
    # whole job down, or the others would wait for it forever.
    if group.is_root:
        say(message)
    if group.all_failing(patience=2.0):
        group.exit_together(code)
    if not group.is_root:
        say(f"rank {group.rank}: {message}")
    time.sleep(0.5)  # the launcher forwards what we printed; an abort may cut that short
    group.abort(code)


def _mpi_group():
    """The MPI group of a data-parallel training process, or None (never imports MPI)."""
    distributed = sys.modules.get("charlm.lm.train.distributed")
    group = distributed.active_group() if distributed else None
    return group if group is not None and group.size > 1 else None


def run_app(app: typer.Typer) -> None:
    """Run ``app``; usage errors (unknown option, bad value) become one line plus a --help hint, a
    failed write to stdout or stderr one line (where stderr still works) and a non-zero exit; a
    reader gone away (`charlm sample | head`) ends the command quietly with 0, as a pipe says
    "enough"."""
    with guarded_streams():
        try:
            code = _run(app)
            flush_streams()  # what the buffering kept back fails here, not as the interpreter exits
        except OutputFailed as exc:
            silence(exc.stream)
            if exc.stream == "stdout" and exc.broken_pipe:
                code = 0
            else:
                say(f"error: {exc}")
                code = OUTPUT_FAILED_CODE
    if code:
        sys.exit(code)


def _run(app: typer.Typer) -> int:
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit instead of raising it
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        say("interrupted")
        return 130
    except UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None and getattr(exc, "cmd", True) else ""
        say(f"error: {exc.format_message()}{hint}")
        return exc.exit_code
