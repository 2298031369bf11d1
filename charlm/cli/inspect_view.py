"""How `charlm inspect` shows a trace: colour scales, the terminal's coloured text and the
self-contained HTML page (inline style and script, nothing fetched from a network)."""

from __future__ import annotations

import html
import json

import numpy as np
from rich.text import Text

# The first line of every page written, so a later run may replace its own page but never
# another file (see cli/inspect_command.py).
MARKER = "<!-- written by charlm inspect -->"


def surprisal_scale(surprisal: np.ndarray) -> float:
    """The top of the surprisal colour scale, in bits: the 99th percentile (at least 1)."""
    finite = surprisal[np.isfinite(surprisal)]
    return max(1.0, float(np.quantile(finite, 0.99))) if finite.size else 1.0


def unit_scale(values: np.ndarray) -> float:
    """A symmetric scale around zero: the largest |value| (at least 1e-6)."""
    return max(1e-6, float(np.abs(values).max()))


def surprisal_colour(bits: float, top: float) -> tuple[int, int, int]:
    """White (expected) to red (surprising); the first token, never predicted, stays white."""
    if not np.isfinite(bits):
        return (255, 255, 255)
    x = min(max(bits / top, 0.0), 1.0)
    return (255, int(255 - 200 * x), int(255 - 230 * x))


def unit_colour(value: float, scale: float) -> tuple[int, int, int]:
    """Blue (negative) through white (zero) to red (positive)."""
    x = min(max(value / scale, -1.0), 1.0)
    if x >= 0:
        return (255, int(255 - 190 * x), int(255 - 190 * x))
    return (int(255 + 190 * x), int(255 + 120 * x), 255)


def colours(surprisal: np.ndarray, values: np.ndarray | None) -> tuple[list, str]:
    """Each token's background and the legend's words."""
    if values is None:
        top = surprisal_scale(surprisal)
        return [surprisal_colour(s, top) for s in surprisal], f"surprisal: white 0 bits, red {top:.1f} bits or more"
    scale = unit_scale(values)
    return [unit_colour(v, scale) for v in values], f"unit value: blue {-scale:.3g}, white 0, red {scale:.3g}"


def terminal_text(pieces: list[str], backgrounds: list) -> Text:
    text = Text()
    for piece, (r, g, b) in zip(pieces, backgrounds):
        if piece == "\n":
            text.append("\n")
        else:
            text.append(piece, style=f"black on rgb({r},{g},{b})")
    return text


# Inside a <script> element the HTML parser, not JavaScript, decides where the script ends: a
# string holding "</script" ends it early, and "<!--" then "<script" (the script-data escape
# states) keeps it from ending at its own "</script>", so the page's code never runs. These
# characters occur only inside the JSON's strings, where a \uXXXX escape means the same to
# JavaScript; U+2028 and U+2029 end a line in JavaScript before ES2019.
_SCRIPT_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def _script_json(value) -> str:
    """JSON safe inside a <script> element, whatever its strings hold."""
    return json.dumps(value, ensure_ascii=False).translate(_SCRIPT_ESCAPES)


PAGE = r"""{marker}
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>charlm inspect: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
#text {{ font-family: monospace; font-size: 15px; line-height: 1.6; white-space: pre-wrap; overflow-wrap: anywhere; }}
.t {{ cursor: default; }}
.t:hover {{ outline: 1px solid #333; }}
#tip {{ position: fixed; display: none; background: #fff; border: 1px solid #888; padding: 6px 9px;
  font-family: monospace; font-size: 13px; box-shadow: 2px 2px 6px rgba(0,0,0,.2); pointer-events: none; }}
.legend {{ display: flex; align-items: center; gap: .6em; margin: 1em 0; }}
.bar {{ width: 220px; height: 14px; border: 1px solid #999; background: linear-gradient(to right, {gradient}); }}
</style></head>
<body>
<h1>charlm inspect</h1>
<p>{subtitle}</p>
<div class="legend"><span>{low}</span><span class="bar"></span><span>{high}</span><span>({legend})</span></div>
<div id="text">{spans}</div>
<div id="tip"></div>
<script>
const TOKENS = {tokens};
const SURPRISAL = {surprisal};
const TOP = {top};
const UNIT = {unit};
const UNIT_NAME = {unit_name};
const ATTEND = {attend};  // a memory network's: per token, per hop, its most attended [tokens back, %]
const tip = document.getElementById("tip");
function show(el, x, y) {{
  const i = Number(el.dataset.i);
  const esc = s => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\n/g, "\u21b5").replace(/ /g, "\u2423");
  let lines = ["token " + i + ": " + esc(TOKENS[i])];
  lines.push(SURPRISAL[i] === null ? "(the first token: not predicted)" : "surprisal " + SURPRISAL[i].toFixed(2) + " bits");
  if (UNIT !== null) lines.push(UNIT_NAME + " = " + UNIT[i].toFixed(4));
  if (ATTEND !== null) ATTEND[i].forEach((hop, k) => lines.push("hop " + k + " attends to: "
    + hop.map(([back, pct]) => esc(TOKENS[i - back]) + " (" + back + " back) " + pct + "%").join(", ")));
  lines.push("next, predicted:");
  for (const [tok, p] of TOP[i]) lines.push("&nbsp;&nbsp;" + esc(tok) + "&nbsp;&nbsp;" + (100 * p).toFixed(1) + "%");
  tip.innerHTML = lines.join("<br>");
  tip.style.display = "block";
  tip.style.left = Math.min(x + 14, window.innerWidth - 260) + "px";
  tip.style.top = (y + 14) + "px";
}}
for (const el of document.querySelectorAll(".t")) {{
  el.addEventListener("mouseenter", event => show(el, event.clientX, event.clientY));
  el.addEventListener("mouseleave", () => {{ tip.style.display = "none"; }});
}}
// page.html#123 opens with token 123's box shown (for links and screenshots).
const pinned = /^#(\d+)$/.exec(location.hash);
if (pinned) {{
  const el = document.querySelector('.t[data-i="' + pinned[1] + '"]');
  if (el) {{ const box = el.getBoundingClientRect(); show(el, box.right, box.bottom); }}
}}
</script>
</body></html>
"""


def html_page(*, title: str, subtitle: str, pieces: list[str], names: list[str], backgrounds: list, legend: str,
              surprisal: np.ndarray, top: list, unit_values: np.ndarray | None, unit_name: str | None,
              attention: list | None = None) -> str:
    """One page: one <span class="t"> per token (its text ``pieces[i]``, its name in the
    vocabulary ``names[i]``), coloured, with its predictions on hover (and a memory network's
    ``attention``: per token, per hop, [tokens back, percent] of the slots it attends to most)."""
    spans = "".join(
        f'<span class="t" data-i="{i}" style="background:rgb({r},{g},{b})">{html.escape(piece)}</span>'
        for i, (piece, (r, g, b)) in enumerate(zip(pieces, backgrounds)))
    if unit_values is None:
        gradient, low, high = "rgb(255,255,255), rgb(255,55,25)", "expected", "surprising"
    else:
        gradient, low, high = "rgb(65,135,255), rgb(255,255,255), rgb(255,65,65)", "negative", "positive"
    return PAGE.format(
        marker=MARKER, title=html.escape(title), subtitle=html.escape(subtitle), gradient=gradient, low=low,
        high=high, legend=html.escape(legend), spans=spans, tokens=_script_json(names),
        surprisal=_script_json([None if not np.isfinite(s) else round(float(s), 4) for s in surprisal]),
        top=_script_json(top),
        unit=_script_json(None if unit_values is None else [round(float(v), 5) for v in unit_values]),
        unit_name=_script_json(unit_name), attend=_script_json(attention))
