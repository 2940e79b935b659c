"""summary.html and report.html as text: their sections, the thresholds from the rubric, hostile text escaped,
bad image payloads dropped, truncated text always with an ellipsis and the whole text. (In a real browser:
tests/test_pages_browser.py.)"""
from __future__ import annotations

import re

from grader.pages.student import render_student_page
from grader.pages.thresholds import scales
from grader.summary import render_summary_html
from report_fixtures import ALL, HOSTILE
from class_reports import LONG_MESSAGE, class_entries


def entries():
    return ([(f"{kind}-{n}", ALL[kind](), "") for kind in sorted(ALL) for n in range(3)]
            + [("dave<b>", None, f"timed out after 900 s; last output: {HOSTILE}")])


def test_summary_has_its_sections_and_one_row_per_student():
    page = render_summary_html(entries())
    assert page.startswith("<!DOCTYPE html>") and page.count('<svg id="histogram"') == 1
    for heading in ("Score histogram", "Metrics against the thresholds", "Per-item outcomes", "Roster",
                    "Similarity between submissions", "Flags for review", "Super-resolution crops",
                    "Submissions without a report"):
        assert f"<h2>{heading}" in page
    assert page.count('<tr data-student="') == 10
    assert "10 submissions, 9 graded, 1 without a report" in page
    assert re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I) is None
    assert "url(" not in page and "@import" not in page and re.search(r"<script[^>]*src", page) is None


def test_hostile_text_is_escaped_not_raw():
    page = render_summary_html(entries())
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # flags and the error, escaped
    assert 'data-student="dave&lt;b&gt;"' in page and "dave<b>" not in page
    assert "\x00" not in page and "\x1b" not in page


def test_metric_histograms_draw_the_rubrics_thresholds():
    quick = scales(None, "quick")
    page = render_summary_html(class_entries(40), scales=quick)
    acc, psnr = quick["cnn.accuracy"], quick["sr.psnr"]
    assert f"zero_at {acc.zero_at:.4f}" in page and f"full_at {acc.full_at:.4f}" in page
    assert f"zero_at {psnr.zero_at:.2f} dB" in page and f"full_at {psnr.full_at:.2f} dB" in page


def test_bad_image_payload_is_dropped():
    report = ALL["passing"]()
    report.images = [{"label": "x", "png_base64": '"><script>alert(1)</script>'}]
    page = render_summary_html([("mallory", report, "")])
    assert "<script>alert" not in page and "No SR crops" in page
    assert "<script>alert" not in render_student_page(report, "mallory", scales(None, "quick"))


def test_empty_class_still_renders():
    page = render_summary_html([])
    assert "0 submissions" in page and '<svg id="histogram"' in page and "No pair reaches" not in page


def test_student_page_shows_every_item_the_curves_the_scale_and_the_crops():
    report = class_entries(4)[3][1]   # student003: a long message, losses, crops
    quick = scales(None, "quick")
    page = render_student_page(report, "student003", quick, "../summary.html")
    assert page.count('<span class="badge"') == 9 and 'href="../summary.html"' in page
    for svg in ('id="loss-cnn"', 'id="loss-sr"', 'id="gauge-cnn.accuracy"', 'id="gauge-sr.psnr"'):
        assert svg in page
    assert f"full_at {quick['cnn.accuracy'].full_at:.4f}" in page and "bicubic upsampling 26.89 dB" in page
    assert page.count('<figure class="crop">') == 3 and "student " in page and " dB | HR" in page
    assert "bwrap" in page and "torch 2.14.1" in page
    assert "fingerprint" not in page and "<script" not in page


def test_truncated_text_has_an_ellipsis_and_the_whole_text():
    report = class_entries(4)[3][1]
    page = render_student_page(report, "student003", scales(None, "quick"))
    preview = re.search(r"<pre>(values differ[^<]*)</pre><details>", page).group(1)
    assert preview.endswith("…") and "END-OF-MESSAGE" not in preview
    assert LONG_MESSAGE.replace("'", "&#x27;") in page   # the whole message, once, inside <details>
