"""``charlm export MODEL OUT.onnx``: the model as two ONNX graphs (lm/export/onnx_graphs.py), the
sequence graph in OUT.onnx and the one-step graph for generation loops beside it in
OUT.step.onnx, each checked by onnx.checker, written as one pair (lm/export/pair.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from .errors import user_errors
from .streams import CommandConsole

out = CommandConsole(highlight=False)


def step_path(path: Path) -> Path:
    return path.with_name((path.name[:-5] if path.name.endswith(".onnx") else path.name) + ".step.onnx")


def export(
    model: Annotated[Path, typer.Argument(help="Run folder or checkpoint file of a language model.", show_default=False)],
    path: Annotated[Path, typer.Argument(help="The sequence graph's file (the step graph goes beside it, as NAME.step.onnx).", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace files that already exist.")] = False,
):
    """Export a language model to ONNX, to run it without charlm (see examples/onnx_sample.py)."""
    from ..lm.models.saved import load_model
    from ..store.runfolder import resolve_checkpoint

    with user_errors():
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ConfigError("charlm export needs the onnx package: pip install 'charlm[onnx]'") from None
        from ..lm.export.pair import export_pair

        targets = [path, step_path(path)]
        for target in targets:
            if target.is_dir():
                raise ConfigError(f"{target} is a folder; give a file name such as {target / 'model.onnx'}")
            if target.exists() and not force:
                raise ConfigError(f"{target} exists; add --force to replace it")
            if not target.parent.exists():
                raise ConfigError(f"the folder {target.parent} does not exist")
        checkpoint = resolve_checkpoint(model)
        snap = load_model(checkpoint)
        export_pair(snap.model, snap.vocab, *targets)
        cfg = snap.model.config
        out.print(f"exported {checkpoint} ({cfg.describe()}, vocabulary {cfg.vocab_size:,}):")
        out.print(f"  {targets[0]}  sequence graph: tokens [T, N] -> logits [T, N, V]")
        out.print(f"  {targets[1]}  step graph: token [N] -> logits [N, V]")
