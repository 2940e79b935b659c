"""summary.html for the instructor: one self-contained page (inline CSS and SVG, no network, no scripts).

Sections: score histogram, per-item outcome rates, slowest submissions, submissions that lost points or
failed to grade (with their item messages), flags, and a few SR crops (bicubic | student | HR) as PNG
data URIs. Every string that can come from a student (ids, messages, labels, flags) goes through
html.escape; image payloads are used only if they are plain base64.
"""
from __future__ import annotations

import html
import re
import statistics

from grader.config import ITEM_IDS
from grader.result import Report

Entry = tuple[str, "Report | None", str]
MAX_MESSAGE = 600
MAX_CROPS = 6
_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
COLORS = {"passed": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "error": "#6a1b9a"}
CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:6px;margin:4px 0;max-height:12em;overflow:auto}
.k{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}.crop img{image-rendering:pixelated;height:128px}
.crop{display:inline-block;margin:6px 12px 6px 0}.bad{color:#c62828}"""


def esc(value: object) -> str:
    """HTML-escaped text, with control characters (NUL, ANSI escapes) shown as U+FFFD."""
    return html.escape(_CONTROL.sub("\ufffd", str(value)), quote=True)


def _pct(report: Report) -> float:
    return 100.0 * report.score / report.max_score if report.max_score else 0.0


def _histogram(reports: list[Report]) -> str:
    bins = [0] * 10
    for r in reports:
        bins[min(9, int(_pct(r) // 10))] += 1
    top, w, h, m = max(bins + [1]), 60, 200, 16  # m: room above the tallest bar for its count
    bars = []
    for i, n in enumerate(bins):
        bh = int(h * n / top)
        bars.append(f'<rect x="{40 + i * w}" y="{m + h - bh}" width="{w - 6}" height="{bh}" fill="#1565c0">'
                    f"<title>{i * 10}-{i * 10 + 10}%: {n}</title></rect>"
                    f'<text x="{40 + i * w + (w - 6) / 2}" y="{m + h - 4 - bh}" text-anchor="middle">{n}</text>'
                    f'<text x="{40 + i * w + (w - 6) / 2}" y="{m + h + 16}" text-anchor="middle">{i * 10}–{i * 10 + 10}</text>')
    return (f'<svg id="histogram" role="img" aria-label="score histogram" width="{60 + 10 * w}" height="{m + h + 40}" '
            f'font-size="11">{"".join(bars)}<text x="{40 + 5 * w}" y="{m + h + 34}" text-anchor="middle">'
            "score (% of max)</text></svg>")


def _item_rates(reports: list[Report]) -> str:
    rows, bar_w = [], 600
    for n, item_id in enumerate(ITEM_IDS):
        statuses = [t.status for r in reports for t in r.tests if t.id == item_id]
        x, y, parts = 190.0, 10 + n * 26, []
        for status, color in COLORS.items():
            frac = statuses.count(status) / len(statuses) if statuses else 0.0
            if frac:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{bar_w * frac:.1f}" height="18" fill="{color}">'
                             f"<title>{esc(item_id)} {status}: {frac:.0%}</title></rect>")
                x += bar_w * frac
        passed = statuses.count("passed") / len(statuses) if statuses else 0.0
        rows.append(f'<text x="180" y="{y + 13}" text-anchor="end">{esc(item_id)}</text>{"".join(parts)}'
                    f'<text x="{200 + bar_w}" y="{y + 13}">{passed:.0%} passed</text>')
    legend = "".join(f'<span class="k" style="background:{c}"></span>{s}' for s, c in COLORS.items())
    return (f'<svg id="item-rates" role="img" aria-label="per-item outcomes" width="{300 + bar_w}" '
            f'height="{20 + 26 * len(ITEM_IDS)}" font-size="12">{"".join(rows)}</svg><div>{legend}</div>')


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    return f"<table><tr>{th}</tr>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>"


def _problems(entries: list[Entry]) -> str:
    blocks = []
    for student, report, error in entries:
        if report is None or error:
            blocks.append(f'<h3 class="bad">{esc(student)}: not graded</h3><pre>{esc((error or "no report")[:MAX_MESSAGE])}</pre>')
            if report is None:
                continue
        bad = [t for t in report.tests if t.status != "passed"]
        if bad:
            items = "".join(f"<li><b>{esc(t.id)}</b> {esc(t.status)} {t.score:g}/{t.max_score:g}"
                            f"<pre>{esc(t.output[:MAX_MESSAGE])}</pre></li>" for t in bad)
            blocks.append(f"<details><summary>{esc(student)}: {report.score:g}/{report.max_score:g}, "
                          f"{len(bad)} item(s) lost points</summary><ul>{items}</ul></details>")
    return "".join(blocks) or "<p>None.</p>"


def _crops(entries: list[Entry]) -> str:
    figs = []
    for student, report, _ in entries:
        for image in (report.images if report else [])[:1]:  # one per student, for variety
            data = str(image.get("png_base64", ""))
            if len(figs) < MAX_CROPS and _B64.match(data):
                figs.append(f'<figure class="crop"><img alt="{esc(image.get("label", ""))}" '
                            f'src="data:image/png;base64,{data}"><figcaption>{esc(student)}: '
                            f'{esc(image.get("label", ""))}</figcaption></figure>')
    return "".join(figs) or "<p>No SR crops in these reports.</p>"


def render_summary_html(entries: list[Entry]) -> str:
    """The whole page for `entries` = [(student_id, Report or None, error message)]."""
    entries = sorted(entries, key=lambda e: e[0])
    reports = [r for _, r, _ in entries if r is not None]
    pcts = [_pct(r) for r in reports]
    stats = (f"{len(entries)} submissions, {len(reports)} graded, {len(entries) - len(reports)} without a report. "
             + (f"Mean {statistics.mean(pcts):.1f}%, median {statistics.median(pcts):.1f}%." if pcts else ""))
    slow = sorted(((s, r) for s, r, _ in entries if r is not None), key=lambda x: -x[1].duration_s)[:10]
    slow_rows = [[esc(s), f"{r.duration_s:.1f}", f"{r.score:g}/{r.max_score:g}", esc(r.device)] for s, r in slow]
    flag_rows = [[esc(s), "<br>".join(esc(f) for f in r.flags)] for s, r, _ in entries if r is not None and r.flags]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>Grading summary</title><style>{CSS}</style></head><body>",
        f"<h1>Grading summary</h1><p>{esc(stats)}</p>",
        "<h2>Score histogram</h2>", _histogram(reports),
        "<h2>Per-item outcomes</h2>", _item_rates(reports),
        "<h2>Slowest submissions</h2>", _table(["student", "seconds", "score", "device"], slow_rows),
        "<h2>Submissions that lost points or failed</h2>", _problems(entries),
        "<h2>Flags for review</h2>",
        _table(["student", "flags"], flag_rows) if flag_rows else "<p>None.</p>",
        "<h2>Super-resolution crops (bicubic | student | HR)</h2>", _crops(entries),
        "</body></html>", ""])
