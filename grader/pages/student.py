"""One student's report.html: what an instructor opens from the roster, and what a student sees after
`pytest grader` or `grade --html`. Every item's verdict and whole message, the training curves, accuracy and
PSNR on the credit scale, the practical's pictures (the t-SNE of the CNN's embedding next to the SR crops with
their PSNR, the first convolution's filters, the confusion matrix), flags, versions and sandbox. No script.
"""
from __future__ import annotations

import json

from grader.formats import json_safe
from grader.items import SPECS, TRAINED
from grader.pages import charts, pictures
from grader.pages.html import badge, esc, is_base64, long_text, page, table
from grader.pages.thresholds import METRIC
from grader.result import Report

# drawn (curves, pictures), or for the similarity page only
HIDDEN_METRICS = ("losses", "fingerprint", "confusion", "embedding_sample", "first_conv")
CURVES = tuple((spec.id, spec.model) for spec in TRAINED)   # (item, what it trained): a training curve each
CROP_ITEMS = ", ".join(spec.id for spec in TRAINED if spec.images)   # the items whose run makes the crops


def _items(report: Report) -> str:
    rows = []
    for t in report.tests:
        shown = {k: v for k, v in t.metrics.items() if k not in HIDDEN_METRICS}
        measured = (f"<details><summary>measurements</summary><pre>{esc(json.dumps(json_safe(shown), indent=1))}"
                    f"</pre></details>") if shown else ""
        hidden = "" if t.visibility == "visible" else f'<div class="muted">visibility: {esc(t.visibility)}</div>'
        rows.append([f"<b>{esc(t.id)}</b><div class='muted'>{esc(t.name)}</div>{hidden}", badge(t.status),
                     f"{t.score:g}/{t.max_score:g}", long_text(t.output) + measured])
    return table(["item", "verdict", "points", "message"], rows, 'id="items" style="width:100%"')


def _training(report: Report, scales: dict) -> str:
    by_id = {t.id: t for t in report.tests}
    curves = [charts.line_chart([(label, by_id[i].metrics.get("losses") or [])],
                                f"Training loss: {label}", f"loss-{i.split('.')[0]}")
              for i, label in CURVES if i in by_id]
    gauges = []
    for item_id, scale in scales.items():
        if item_id not in by_id:
            continue
        metrics = by_id[item_id].metrics
        value = metrics.get(METRIC[item_id])
        baseline = metrics.get(SPECS[item_id].baseline_metric)   # a baseline measured on the same run, if any
        marks = ((SPECS[item_id].baseline, baseline),) if isinstance(baseline, (int, float)) else ()
        gauges.append(charts.gauge(value if isinstance(value, (int, float)) else None, scale,
                                   f"{item_id}: {METRIC[item_id]} against the thresholds", f"gauge-{item_id}", marks))
    if not curves and not gauges:
        return ""
    return ('<h2>Training and metrics</h2><p class="muted">The grader trains your models itself, with fixed '
            'seeds and budgets. Credit is linear from zero_at (none) to full_at (all).</p>'
            f'<div class="figs">{"".join(curves)}</div><div class="figs">{"".join(gauges)}</div>')


def crops_html(report: Report, caption_prefix: str = "") -> str:
    figs = [f'<figure class="crop"><img alt="{esc(im.get("label", ""))}" src="data:image/png;base64,'
            f'{im["png_base64"]}"><figcaption>{esc(caption_prefix)}{esc(im.get("label", ""))}</figcaption></figure>'
            for im in report.images if is_base64(im.get("png_base64"))]
    return "".join(figs)


def _pictures(report: Report) -> str:
    """The practical's pictures: the embedding's t-SNE next to the SR crops, then the filters and the
    confusion matrix of the trained CNN (grader/pages/pictures.py)."""
    cnn = next((t.metrics for t in report.tests if t.id == pictures.ITEM), {})
    crops = crops_html(report)
    crops = (f'<div><h3>Super-resolution crops (bicubic | student | HR)</h3>{crops}</div>' if crops else
             f"<p>No super-resolution crops: {CROP_ITEMS} did not finish.</p>")
    return ("<h2>What your models learned</h2>"
            f'<div class="figs">{pictures.tsne_figure(cnn.get("embedding_sample"), cnn.get("accuracy"))}{crops}</div>'
            f'<div class="figs">{pictures.filters_figure(cnn.get("first_conv"))}'
            f'{pictures.confusion_figure(cnn.get("confusion"))}</div>')


def _details(report: Report) -> str:
    files = "".join(f"<li>{esc(f.get('name'))}: {esc(f.get('bytes'))} bytes, sha256 {esc(f.get('sha256'))}</li>"
                    for f in report.submission.get("files", []) if isinstance(f, dict))
    rows = [["profile", esc(report.profile)], ["device", esc(report.device)],
            ["sandbox", f"{esc(report.sandbox)}<div class='muted'>{esc(report.sandbox_note)}</div>"],
            ["duration", f"{report.duration_s:.1f} s"],
            ["versions", esc(", ".join(f"{k} {v}" for k, v in report.versions.items()))],
            ["determinism", esc(", ".join(f"{k}={v}" for k, v in report.determinism.items()))],
            ["rubric", esc(f"{report.config.get('path', '')} (sha256 {report.config.get('sha256', '')[:12]})")],
            ["submission", f"{esc(report.submission.get('path', ''))}<ul>{files}</ul>"]]
    return "<h2>How it was graded</h2>" + table(["", ""], rows)


def render_student_page(report: Report, student: str, scales: dict, summary_link: str = "") -> str:
    """The page for `student`; `scales` from grader.pages.thresholds; `summary_link` a relative URL or ''."""
    notes = [f'<p class="note">{esc(report.estimate_note)}</p>' if report.estimate_note else "",
             '<p class="note bad">Grading did not complete: some items could not be evaluated.</p>'
             if not report.complete else ""]
    flags = ("<h2>Flags for the instructor</h2><p class='muted'>Automatic observations for a human to check, "
             "not verdicts.</p><ul>" + "".join(f"<li>{long_text(f)}</li>" for f in report.flags) + "</ul>"
             if report.flags else "")
    body = "".join([
        f'<p><a href="{esc(summary_link)}">← class summary</a></p>' if summary_link else "",
        f"<h1>{esc(student)}: {report.score:g} / {report.max_score:g}</h1>",
        f'<p class="muted">profile {esc(report.profile)}, device {esc(report.device)}, sandbox {esc(report.sandbox)}, '
        f"{report.duration_s:.0f} s</p>", *notes, flags, "<h2>Items</h2>", _items(report),
        _training(report, scales), _pictures(report), _details(report)])
    return page(f"Grading report: {student}", body)
