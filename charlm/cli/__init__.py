"""The command line: a thin Typer layer over the library. It parses and validates options, calls
``lm/`` or ``classify/`` and draws with rich; ``errors.py`` is the one place where a CharlmError
becomes a stderr line and an exit code."""

from .app import app, main

__all__ = ["app", "main"]
