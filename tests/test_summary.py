"""summary.html: self-contained, hostile text escaped, and it really renders in a headless browser."""
from __future__ import annotations

import re
import shutil
import subprocess
import struct
from pathlib import Path

from grader.summary import render_summary_html
from report_fixtures import ALL, HOSTILE

SHOT_DIR_ENV = "GRADER_SUMMARY_SCREENSHOT"  # set to a folder to keep the PNG for a human look


def entries():
    return ([(f"{kind}-{n}", ALL[kind](), "") for kind in sorted(ALL) for n in range(3)]
            + [("dave<b>", None, f"timed out after 900 s; last output: {HOSTILE}")])


def test_summary_has_sections_and_is_self_contained():
    page = render_summary_html(entries())
    assert page.startswith("<!DOCTYPE html>") and page.count('<svg id="histogram"') == 1
    for heading in ("Score histogram", "Per-item outcomes", "Slowest submissions", "Flags for review",
                    "Super-resolution crops"):
        assert heading in page
    assert re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I) is None
    assert "url(" not in page and "@import" not in page and "<script" not in page.replace("&lt;script", "")
    assert 'src="data:image/png;base64,' in page
    assert "10 submissions, 9 graded, 1 without a report" in page


def test_hostile_text_is_escaped_not_raw():
    page = render_summary_html(entries())
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # messages, flags and the error all escaped
    assert "dave&lt;b&gt;" in page and "dave<b>" not in page


def test_bad_image_payload_is_dropped():
    report = ALL["passing"]()
    report.images = [{"label": "x", "png_base64": '"><script>alert(1)</script>'}]
    page = render_summary_html([("mallory", report, "")])
    assert "<script>" not in page and "No SR crops" in page


def test_empty_class_still_renders():
    page = render_summary_html([])
    assert "0 submissions" in page and '<svg id="histogram"' in page


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_summary_renders_in_headless_chromium(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, ("chromium is not installed, so summary.html cannot be checked in a real browser; "
                     "install it with `apt-get update && apt-get install -y chromium`")
    page = tmp_path / "summary.html"
    page.write_text(render_summary_html(entries()), encoding="utf-8")
    shot = tmp_path / "summary.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1200,2000", page.resolve().as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.exists(), f"chromium wrote no screenshot (exit {run.returncode}):\n{run.stderr[-2000:]}"
    data = shot.read_bytes()
    assert _png_size(data) == (1200, 2000)
    assert len(data) > 30_000, f"screenshot is only {len(data)} bytes: the page looks blank"
    import os
    if os.environ.get(SHOT_DIR_ENV):
        shutil.copy(shot, Path(os.environ[SHOT_DIR_ENV]) / "summary.png")
