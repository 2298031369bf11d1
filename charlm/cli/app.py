"""The ``charlm`` Typer app: one command per module beside this one, registered here (arrows point
down: the command modules never import this one)."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import eval as eval_module
from . import export, info, inspect_command, sample, train
from .classify import app as classify_app
from .errors import run_app
from .streams import CommandConsole

app = typer.Typer(
    no_args_is_help=True,
    help="Train recurrent language models on a text file, sample from them and measure them.",
)


def _version(value: bool):
    if value:
        CommandConsole(highlight=False).print(f"charlm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False):
    pass


app.command()(train.train)
app.command()(sample.sample)
app.command(name="eval")(eval_module.eval_command)
app.command()(info.info)
app.command(name="inspect")(inspect_command.inspect_command)
app.command()(export.export)
app.add_typer(classify_app, name="classify")


def main() -> None:
    """Entry point of the ``charlm`` command."""
    run_app(app)
