"""The similarity section of summary.html: the rule, the listed pairs with both scores, and each pair's
files side by side with the matched code highlighted. A lead for a human, never a verdict: the page says so.
"""
from __future__ import annotations

from grader.pages.html import esc, table
from grader.similarity import INSTALL_HINT, ClassSimilarity, Pair
from grader.similarity.code import FILES

CSS = """.pair-code{display:grid;grid-template-columns:1fr 1fr;gap:8px}.pair-code pre{font:12px/1.35 ui-monospace,
monospace;max-height:32em;overflow:auto}mark{background:#ffe082}.meter{display:inline-block;height:10px;
background:#c62828;vertical-align:middle;margin-right:6px}#similar-pairs td:nth-child(4),#below-pairs td:nth-child(4)
{white-space:nowrap}"""
BELOW_SHOWN = 5


def highlighted(text: str, spans: list) -> str:
    """`text` escaped, the character ranges in `spans` wrapped in <mark>."""
    out, pos = [], 0
    for start, end in sorted((max(0, int(s)), min(len(text), int(e))) for s, e in spans):
        start = max(start, pos)
        if end <= start:
            continue
        out += [esc(text[pos:start]), "<mark>", esc(text[start:end]), "</mark>"]
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _row(rank: int, p: Pair, anchor: bool, link) -> list[str]:
    files = p.code.per_file if p.code else {}
    code = (f"<b>{_pct(p.code.score)}</b><div class='muted'>" + ", ".join(f"{esc(f)} {_pct(files.get(f))}"
            for f in FILES if f in files) + "</div>") if p.code else "–"
    notes = "".join(f"<div class='muted'>{esc(s)}: same as {n} students, the prescribed design (not counted)</div>"
                    for s, n in p.behaviour.shared_by.items())
    to_code = f'<a href="#pair-{rank}">code</a>' if anchor else ""
    return [str(rank), link(p.a), link(p.b),
            f'<span class="meter" style="width:{60 * p.combined:.0f}px"></span>{p.combined:.2f}', code,
            _pct(p.behaviour.scores.get("mnist")), _pct(p.behaviour.scores.get("sr")) + notes, to_code]


def _side_by_side(rank: int, p: Pair, result: ClassSimilarity) -> str:
    blocks = []
    for name in FILES:
        a, b = result.sources.get(p.a, {}).get(name), result.sources.get(p.b, {}).get(name)
        if a is None and b is None:
            continue
        spans_a, spans_b = p.code.spans.get(name, ([], [])) if p.code else ([], [])
        blocks.append(f"<h4>{esc(name)}</h4><div class='pair-code'>"
                      f"<div><b>{esc(p.a)}</b><pre>{highlighted(a or '(missing)', spans_a)}</pre></div>"
                      f"<div><b>{esc(p.b)}</b><pre>{highlighted(b or '(missing)', spans_b)}</pre></div></div>")
    # the anchor is inside the <details>, so following a link to it opens them
    return (f'<details><summary>#{rank} {esc(p.a)} and {esc(p.b)}: combined {p.combined:.2f}</summary>'
            f'<div id="pair-{rank}">{"".join(blocks)}</div></details>')


HEAD = ["#", "student A", "student B", "combined", "code (copydetect)", "MNIST mistakes shared", "SR pixels equal", ""]


def similarity_section(result: ClassSimilarity | None, link=esc) -> str:
    """The section; `link(student)` gives the HTML naming a student (default: the escaped id)."""
    if result is None:
        return "<p>Similarity was not computed.</p>"
    s = result.settings
    intro = (f'<p class="note"><b>Similarity is a lead for a human, not a verdict.</b> Students who follow the '
             f"prescribed architecture write similar code and train to similar models; read both submissions before "
             f"concluding anything, and talk to the students.</p><p class='muted'>Code: copydetect's winnowing "
             f"(MOSS's algorithm) on model.py and pixel_shuffle.py, names, strings and comments ignored, the starter "
             f"files discounted. Behaviour: the models the grader trained, on the test inputs: the share of MNIST "
             f"mistakes both made with the same wrong label, and of sampled SR output pixels that are equal. "
             f"combined = code + {s.behaviour_weight:g} × behaviour × (1 − code); a pair is listed from "
             f"{s.list_at:g}. Behaviour shared exactly by more than {s.common_behaviour} students is the prescribed "
             f"design and not counted. All {len(result.pairs):,} pairs are in similarity.csv.</p>")
    if not result.code_available:
        intro += f'<p class="note bad">Code was not compared: {esc(INSTALL_HINT)}. Behaviour alone ranks the pairs.</p>'
    shown = result.shown
    listed = [_row(n, p, True, link) for n, p in enumerate(shown, 1)]
    n_listed = sum(p.listed for p in result.pairs)
    below = result.pairs[n_listed:n_listed + BELOW_SHOWN]
    parts = [intro, f"<h3>Pairs at or above {s.list_at:g} ({len(shown)} shown)</h3>",
             table(HEAD, listed, 'id="similar-pairs"') if listed else "<p>No pair reaches the listing threshold.</p>",
             "".join(_side_by_side(n, p, result) for n, p in enumerate(shown, 1))]
    if below:
        parts += [f"<h3>The {len(below)} most similar pairs below the threshold</h3>",
                  table(HEAD, [_row(n_listed + n, p, False, link) for n, p in enumerate(below, 1)], 'id="below-pairs"')]
    return "".join(parts)
