"""The one boundary where errors become what a user sees: a CharlmError, Ctrl-C or a usage error
turns into one line on stderr and an exit code. Every command runs under :func:`user_errors`;
:func:`run_app` maps what Click raises."""

from __future__ import annotations

import os
import sys
import time
import warnings
from contextlib import contextmanager

import typer
from rich.console import Console

from ..errors import CharlmError
from ..text.files import TextNote

# Typer 0.2x vendors Click: its usage errors derive from typer.TyperException; older Typers raise
# Click's own ClickException. Exit and Abort are typer's names for Click's in either case.
if hasattr(typer, "TyperException"):
    UsageError = typer.TyperException
else:  # pragma: no cover - Typer before it vendored Click
    from click import ClickException as UsageError

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line: never wrapped


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


@contextmanager
def quiet_broken_pipe():
    """The reader went away (`charlm sample | head`): that is how a pipe says "enough". Point stdout
    at /dev/null so the interpreter's final flush does not complain; exit 0."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def fail(message: str, code: int):
    group = _mpi_group()
    if group is None:
        err.print(message, markup=False, soft_wrap=True)
        raise typer.Exit(code) from None
    # Several processes. Most errors (a bad option, Ctrl-C) happen on every rank at once: then
    # rank 0 says it and all end as one process would. An error of one rank alone must take the
    # whole job down, or the others would wait for it forever.
    if group.is_root:
        err.print(message, markup=False, soft_wrap=True)
    if group.all_failing(patience=2.0):
        group.exit_together(code)
    if not group.is_root:
        err.print(f"rank {group.rank}: {message}", markup=False, soft_wrap=True)
    sys.stderr.flush()
    time.sleep(0.5)  # the launcher forwards what we printed; an abort may cut that short
    group.abort(code)


def _mpi_group():
    """The MPI group of a data-parallel training process, or None (never imports MPI)."""
    distributed = sys.modules.get("charlm.lm.train.distributed")
    group = distributed.active_group() if distributed else None
    return group if group is not None and group.size > 1 else None


def run_app(app: typer.Typer) -> None:
    """Run ``app``; usage errors (unknown option, bad value) become one line plus a --help hint."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted", markup=False)
        sys.exit(130)
    except UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None and getattr(exc, "cmd", True) else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
