"""summary.html for the instructor: one self-contained page (inline CSS, SVG and a sort/filter script).

Sections: score histogram; MNIST accuracy and PSNR histograms with zero_at / full_at drawn, to judge the
thresholds; per-item outcomes; the roster (every student, sortable, filterable, linked to their page);
similarity between submissions; flags; SR crops of the weakest, median and strongest PSNR; students
without a report. Student text is escaped by grader/pages/html.esc (see there).
"""
from __future__ import annotations

import statistics
from urllib.parse import quote

from grader.gradebook import Row
from grader.items import ITEM_IDS, TRAINED
from grader.pages import charts, html, roster, similarity_view
from grader.pages.html import COLORS, esc, long_text
from grader.pages.student import crops_html
from grader.pages.thresholds import FORMATS, METRIC
from grader.result import Report



def _pct(report: Report) -> float:
    return 100.0 * report.score / report.max_score if report.max_score else 0.0


def _score_histogram(reports: list[Report]) -> str:
    scale = charts.Scale(None, None, lambda v: f"{v:.0f}%", bounds=(0.0, 100.0))
    return charts.histogram([_pct(r) for r in reports], scale, "Score (% of max)", "histogram", bins=10)


def _metric(report: Report, item_id: str) -> float | None:
    value = next((t.metrics.get(METRIC[item_id]) for t in report.tests if t.id == item_id), None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metric_histograms(reports: list[Report], scales: dict) -> str:
    figs = []
    for spec in TRAINED:
        values = [v for r in reports if (v := _metric(r, spec.id)) is not None]
        figs.append(charts.histogram(values, scales[spec.id], spec.title, f"hist-{spec.id}"))
    return (f'<div class="figs">{"".join(figs)}</div><p class="muted">Dashed lines: zero_at (no credit at or below) '
            "and full_at (full credit) of this profile, from grading.yaml. The grey bar counts values below the axis.</p>")


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


def _link(student: str, folders: dict[str, str]) -> str:
    folder = folders.get(student)
    return f'<a href="{esc(quote(folder))}/report.html">{esc(student)}</a>' if folder else esc(student)


def _crops(entries: list[Row], folders: dict[str, str]) -> str:
    """All crops of the students with the lowest, the median and the highest PSNR."""
    spec = next((s for s in TRAINED if s.images), None)   # the item whose metric the crops illustrate
    if spec is None:
        return "<p>No item of this rubric makes crops.</p>"
    ranked = sorted(((v, s, r) for s, r, _ in entries if r is not None and (v := _metric(r, spec.id)) is not None
                     and crops_html(r)), key=lambda x: x[0])   # crops_html drops payloads that are not base64
    picks = {id(x): x for x in (ranked[:1] + ranked[len(ranked) // 2:len(ranked) // 2 + 1] + ranked[-1:])}
    blocks = [f"<h3>{_link(s, folders)}: {spec.label} {spec.shown(v)}</h3><div class='figs'>{crops_html(r)}</div>"
              for v, s, r in sorted(picks.values(), key=lambda x: x[0])]
    return "".join(blocks) or "<p>No SR crops in these reports.</p>"


def _flags(entries: list[Row], folders: dict[str, str]) -> str:
    rows = [[_link(s, folders), "".join(long_text(f, 200) for f in r.flags)]
            for s, r, _ in entries if r is not None and r.flags]
    return html.table(["student", "flags"], rows) if rows else "<p>None.</p>"


def _not_graded(entries: list[Row]) -> str:
    rows = [[esc(s), long_text(e or "no report was produced")] for s, r, e in entries if r is None]
    return html.table(["student", "why"], rows) if rows else "<p>None.</p>"


def render_summary_html(entries: list[Row], folders: dict[str, str] | None = None, scales: dict | None = None,
                        similarity=None) -> str:
    """The page for `entries` = [(student_id, Report or None, error)]; `folders`: student -> folder of its
    report.html; `scales`: grader.pages.thresholds.scales(); `similarity`: grader.similarity.compare_class()."""
    folders = folders or {}
    scales = scales or {i: charts.Scale(None, None, f) for i, f in FORMATS.items()}
    entries = sorted(entries, key=lambda e: e[0])
    reports = [r for _, r, _ in entries if r is not None]
    pcts = [_pct(r) for r in reports]
    stats = (f"{len(entries)} submissions, {len(reports)} graded, {len(entries) - len(reports)} without a report. "
             + (f"Mean {statistics.mean(pcts):.1f}%, median {statistics.median(pcts):.1f}%." if pcts else ""))
    profiles = sorted({r.profile for r in reports})
    body = "".join([
        f"<h1>Grading summary</h1><p>{esc(stats)}</p>",
        f"<p class='muted'>Profile {esc(', '.join(profiles) or '–')}.</p>" if profiles else "",
        "<h2>Score histogram</h2>", _score_histogram(reports),
        "<h2>Metrics against the thresholds</h2>", _metric_histograms(reports, scales),
        "<h2>Per-item outcomes</h2>", _item_rates(reports),
        "<h2>Roster</h2>", roster.roster_html(entries, folders),
        "<h2>Similarity between submissions</h2>", similarity_view.similarity_section(similarity, lambda s: _link(s, folders)),
        "<h2>Flags for review</h2>", _flags(entries, folders),
        "<h2>Super-resolution crops (bicubic | student | HR)</h2>", _crops(entries, folders),
        "<h2>Submissions without a report</h2>", _not_graded(entries)])
    return html.page("Grading summary", body, roster.SCRIPT, roster.CSS + similarity_view.CSS)
