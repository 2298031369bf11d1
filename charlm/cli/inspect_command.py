"""``charlm inspect MODEL FILE``: what a model finds surprising in a text, and what one of its
units does while reading it, in the terminal, as one self-contained HTML page, or as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from ..errors import ConfigError
from ..lm.config import TrainConfig
from ..settings import help_text
from .errors import err, user_errors
from .streams import CommandConsole

out = CommandConsole(highlight=False)
SHOWN_TOP = 10  # rows of the "most surprising" and --find tables
KEPT, EXPECTED = 5, 3  # without --top-k: predictions kept per token (JSON, HTML), and shown as "expected instead"


def inspect_command(
    model: Annotated[Path, typer.Argument(help="Run folder or checkpoint file.", show_default=False)],
    file: Annotated[Path, typer.Argument(help="Text file to read with the model.", show_default=False)],
    unit: Annotated[Optional[str], typer.Option(help="Colour by one unit, LAYER:UNIT counted from 0 (as in the parameter names rnn.weight_hh_l0).", show_default=False)] = None,
    value: Annotated[str, typer.Option(help="What of --unit: h, c (LSTMs) or a gate's letter (i f g o for LSTMs, r z n for GRUs).")] = "h",
    find: Annotated[Optional[str], typer.Option(help="A regular expression over the text: rank the units by how well they track where it matches (Pearson's r).", show_default=False)] = None,
    top_k: Annotated[Optional[int], typer.Option(help=f"Predictions kept for each position, and shown as 'expected instead' in the terminal. [default: {KEPT} kept, {EXPECTED} shown]", show_default=False)] = None,
    html_path: Annotated[Optional[Path], typer.Option("--html", help="Write one self-contained page: hover a token for its predictions and the unit's value.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the per-token records as JSON instead.")] = False,
    limit: Annotated[int, typer.Option(help="Read at most this many tokens of FILE (from its start).")] = 10_000,
    seq_len: Annotated[int, typer.Option(help="Window length (the state is carried across windows, so figures do not depend on it).")] = 100,
    attention: Annotated[Optional[int], typer.Option(help="A memn2n model: show each hop's attention over the memory at this token (its position, from 0).", show_default=False)] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE.")] = "utf-8",
    threads: Annotated[Optional[int], typer.Option(help=help_text(TrainConfig, "threads"))] = None,
):
    """Surprisal, top predictions and hidden units of a model over FILE."""
    from ..lm.measure.evaluate import encode_for_scoring, open_model
    from ..lm.models.kinds import KINDS, kind_named, kind_of
    from ..lm.measure.inspection import parse_unit, pattern_indicator, rank_units, token_spans, trace
    from ..store.checkpoint import computing_with

    with user_errors():
        if (top_k is not None and top_k < 1) or limit < 2 or seq_len < 1:
            raise ConfigError("--top-k and --seq-len must be positive and --limit at least 2")
        if html_path is not None:
            check_html_target(html_path)
        path, snap = open_model(model, threads)
        vocab, net = snap.vocab, snap.model
        kind = kind_of(net.config)
        layers, kinds = kind.inspect_values(net)
        if attention is not None and not kind.attends:
            attending = ", ".join(k for k in KINDS if kind_named(k).attends)
            raise ConfigError(f"--attention is for {attending} models: {kind.a_model} has no memory to attend over")
        chosen = parse_unit(unit, layers, net.config.hidden_size) if unit is not None else None
        if value not in kinds:
            raise ConfigError(f"--value {value!r}: a {net.config.kernel_family} model has {', '.join(kinds)}")
        if value != "h" and chosen is None:
            raise ConfigError("--value takes effect only with --unit")
        encoded = encode_for_scoring(file, vocab, encoding)
        total = int(encoded.tokens.size)
        tokens = encoded.tokens[:limit]
        if total > limit:
            err.print(f"note: inspecting the first {limit:,} of {total:,} tokens (see --limit)")
        if attention is not None and not 0 <= attention < tokens.size:
            raise ConfigError(f"--attention {attention}: the text inspected has positions 0..{tokens.size - 1}")
        with computing_with(path):
            tr = trace(net, tokens, top_k=KEPT if top_k is None else top_k, seq_len=seq_len)
        text, pieces, spans = token_spans(vocab, tokens)
        ranking = rank_units(tr, pattern_indicator(text, spans, find), SHOWN_TOP) if find is not None else None
        if chosen is None and ranking:
            chosen, value = (ranking[0].layer, ranking[0].unit), ranking[0].kind
        values = tr.layers[chosen[0]][value][:, chosen[1]] if chosen is not None else None
        unit_name = f"layer {chosen[0]} unit {chosen[1]} {value}" if chosen is not None else None

        if as_json:
            # Plain text: rich's JSON highlighting takes seconds over thousands of records.
            report = json_report(path, file, vocab, tr, pieces, total, chosen, value, find, ranking)
            if attention is not None:
                report["attention"] = {"position": attention, "hops": attention_records(vocab, tr, attention)}
            sys.stdout.write(json.dumps(report, indent=1) + "\n")
        else:
            show_terminal(tr, pieces, values, unit_name, ranking, vocab, EXPECTED if top_k is None else top_k)
            if attention is not None:
                show_attention(vocab, tr, attention)
        if html_path is not None:
            write_html(html_path, path, file, tr, pieces, values, unit_name, vocab)


def check_html_target(path: Path) -> None:
    """Only a new file, or a page an earlier `charlm inspect` wrote, may be written: never
    another file of the user's."""
    from .inspect_view import MARKER

    if path.is_dir():
        raise ConfigError(f"--html {path}: is a folder; give a file name such as {path / 'inspect.html'}")
    if path.exists():
        with open(path, "rb") as handle:
            head = handle.read(len(MARKER.encode()))
        if head != MARKER.encode():
            raise ConfigError(f"--html {path}: the file exists and was not written by charlm inspect; "
                              "choose another name or remove it")
    if not path.parent.exists():
        raise ConfigError(f"--html {path}: the folder {path.parent} does not exist")


def top_list(vocab, tr, i: int) -> list:
    return [[vocab.tokens[int(t)], round(float(p), 5)] for t, p in zip(tr.top_ids[i], tr.top_probs[i])]


def json_report(path, file, vocab, tr, pieces, total, chosen, value, find, ranking) -> dict:
    layers = tr.layers
    records = []
    for i, piece in enumerate(pieces):
        record = {"token": vocab.tokens[int(tr.tokens[i])],
                  "surprisal": None if i == 0 else float(tr.surprisal[i]), "top": top_list(vocab, tr, i)}
        if chosen is not None:
            layer, j = chosen
            record["unit"] = {name: float(v[i, j]) for name, v in layers[layer].items()}
        records.append(record)
    report = {"model": str(path), "file": str(file), "level": vocab.level, "tokens": int(tr.tokens.size),
              "tokens_total": total, "bits_per_token": float(np.nanmean(tr.surprisal)),
              "unit": None if chosen is None else {"layer": chosen[0], "unit": chosen[1], "value": value},
              "records": records}
    if ranking is not None:
        report["find"] = {"pattern": find, "units": [vars(m) for m in ranking]}
    return report


def show_terminal(tr, pieces, values, unit_name, ranking, vocab, shown_k: int) -> None:
    from .inspect_view import colours, terminal_text

    backgrounds, legend = colours(tr.surprisal, values)
    out.print(terminal_text(pieces, backgrounds))
    out.print(f"\n{legend}" + (f" ({unit_name})" if unit_name else ""))
    out.print(f"{tr.tokens.size:,} tokens, {np.nanmean(tr.surprisal):.4f} bits per token on average")
    if ranking is not None:
        table = Table(title="units that track the pattern (Pearson's r)")
        for name in ("layer", "unit", "value", "r"):
            table.add_column(name, justify="right")
        for m in ranking:
            table.add_row(str(m.layer), str(m.unit), m.kind, f"{m.correlation:+.3f}")
        out.print(table)
    table = Table(title="the most surprising tokens")
    for name in ("position", "token", "bits", "expected instead"):
        table.add_column(name, justify="right" if name in ("position", "bits") else "left")
    order = np.argsort(-tr.surprisal[1:], kind="stable")[:SHOWN_TOP] + 1  # the first token is not predicted
    for i in order:
        expected = ", ".join(f"{tok!r} {100 * p:.0f}%" for tok, p in top_list(vocab, tr, i - 1)[:shown_k])
        table.add_row(f"{i:,}", repr(vocab.tokens[int(tr.tokens[i])]), f"{tr.surprisal[i]:.2f}", expected)
    out.print(table)


def attention_records(vocab, tr, position: int) -> list[list[dict]]:
    """Per hop, the filled memory slots at ``position``, most attended first: the token, how many
    tokens back it is (0: the token at ``position`` itself) and its weight."""
    filled = np.flatnonzero(tr.memory[position] >= 0)
    hops = []
    for weights in tr.attention[position]:
        order = filled[np.argsort(-weights[filled], kind="stable")]
        hops.append([{"token": vocab.tokens[int(tr.memory[position, j])], "back": int(j),
                      "weight": round(float(weights[j]), 5)} for j in order])
    return hops


def most_attended(tr, shown: int = 3) -> list:
    """Per token, per hop, its ``shown`` most attended filled slots as [tokens back, percent]."""
    order = np.argsort(-tr.attention, axis=2, kind="stable")[:, :, :shown]  # (n, K, shown)
    weights = np.take_along_axis(tr.attention, order, axis=2)
    return [[[[int(j), round(100 * float(w))] for j, w in zip(slots, ws) if w > 0] for slots, ws in zip(o, wt)]
            for o, wt in zip(order, weights)]


def show_attention(vocab, tr, position: int, shown: int = 8) -> None:
    following = f", predicting {vocab.tokens[int(tr.tokens[position + 1])]!r}" if position + 1 < tr.tokens.size else ""
    table = Table(title=f"attention at position {position:,} ({vocab.tokens[int(tr.tokens[position])]!r}{following}): "
                        f"the {shown} most attended memory tokens of each hop (tokens back)")
    table.add_column("hop", justify="right")
    for rank in range(shown):
        table.add_column(f"#{rank + 1}", justify="left")
    for hop, slots in enumerate(attention_records(vocab, tr, position)):
        cells = [f"{s['token']!r} ({s['back']}) {100 * s['weight']:.0f}%" for s in slots[:shown]]
        table.add_row(str(hop), *cells, *[""] * (shown - len(cells)))
    out.print(table)


def write_html(html_path, path, file, tr, pieces, values, unit_name, vocab) -> None:
    from ..store.atomic import write_atomically
    from .inspect_view import colours, html_page

    backgrounds, legend = colours(tr.surprisal, values)
    page = html_page(title=str(file), subtitle=f"{file} read by {path}: {tr.tokens.size:,} tokens"
                     + (f", coloured by {unit_name}" if unit_name else ", coloured by surprisal"),
                     pieces=pieces, names=[vocab.tokens[int(t)] for t in tr.tokens], backgrounds=backgrounds, legend=legend, surprisal=tr.surprisal,
                     top=[top_list(vocab, tr, i) for i in range(tr.tokens.size)], unit_values=values,
                     unit_name=unit_name, attention=None if tr.attention is None else most_attended(tr))
    write_atomically(html_path, lambda handle: handle.write(page.encode("utf-8")))
    err.print(f"wrote {html_path}")
