"""The pages in a real browser: Debian's chromium, headless, driven over the DevTools pipe (tests/headless.py).

A generated class of 30 (tests/class_reports.py) is written as a batch would write it. The roster is sorted
by clicking column headings and filtered by typing and choosing a status, and what the page then shows is
read back; the figures must fit a 1300 px wide window; nothing may be fetched; long messages open.
Set GRADER_PAGES_SCREENSHOTS to a folder to keep the screenshots for a human look.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest

from class_reports import write_class
from grader.pages.thresholds import scales
from headless import Browser, require_chromium

WIDTH = 1300
ROWS = "Array.from(document.querySelectorAll('#roster tbody tr')).filter(r => !r.hidden)"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_chromium()
    out = tmp_path_factory.mktemp("batch")
    entries, folders = write_class(out, 30)
    with Browser(tmp_path_factory.mktemp("profile"), width=WIDTH) as browser:
        yield out, entries, folders, browser


def _keep(shot: Path) -> None:
    if os.environ.get("GRADER_PAGES_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["GRADER_PAGES_SCREENSHOTS"]) / shot.name)


def _shown(browser: Browser, column: int) -> list[tuple[str, str]]:
    """(student, the column's sort value) of every visible roster row, top to bottom."""
    return [tuple(r) for r in browser.js(f"{ROWS}.map(r => [r.dataset.student, r.cells[{column}].dataset.v])")]


def _heading(browser: Browser, title: str) -> int:
    return browser.js(f"Array.from(document.querySelectorAll('#roster th')).findIndex(t => t.title === {json.dumps(title)})")


@pytest.mark.parametrize("title, numeric", [("total points", True), ("student id", False), ("grading time", True),
                                            ("cnn.accuracy", True), ("status", False)])
def test_roster_sorts_by_a_column_both_ways(site, title, numeric):
    out, entries, _, browser = site
    browser.open(out / "summary.html")
    column = _heading(browser, title)
    assert column >= 0, f"no roster column titled {title}"
    key = (lambda v: float(v) if v else float("-inf")) if numeric else str.lower
    for descending in (False, True):
        browser.click(f"#roster th:nth-child({column + 1})")
        values = [v for _, v in _shown(browser, column)]
        assert len(values) == len(entries)
        assert [key(v) for v in values] == sorted((key(v) for v in values), reverse=descending)
    assert browser.js(f"document.querySelectorAll('#roster th')[{column}].getAttribute('aria-sort')") == "descending"


def test_roster_filters_by_name_and_status(site):
    out, entries, _, browser = site
    browser.open(out / "summary.html")
    browser.type("#filter-name", "STUDENT01")          # case does not matter
    assert sorted(s for s, _ in _shown(browser, 0)) == [f"student{k:03d}" for k in range(10, 20)]
    assert browser.js("document.getElementById('roster-count').textContent") == "10 of 30 students shown"
    browser.type("#filter-name", "")
    for status, expected in (("not graded", [s for s, r, _ in entries if r is None]),
                             ("incomplete", [s for s, r, _ in entries if r is not None and not r.complete]),
                             ("flagged", [s for s, r, _ in entries if r is not None and r.flags])):
        browser.js(f"var s=document.getElementById('filter-status');s.value={json.dumps(status)};"
                   "s.dispatchEvent(new Event('change'))")
        assert sorted(s for s, _ in _shown(browser, 0)) == sorted(expected) and expected


def test_roster_links_open_each_students_page(site):
    out, _, folders, browser = site
    browser.open(out / "summary.html")
    browser.click('#roster a[href="student003/report.html"]')
    browser.wait_event("Page.loadEventFired")
    assert browser.js("location.pathname").endswith("/student003/report.html")
    assert browser.js("document.querySelector('h1').textContent").startswith("student003: ")


@pytest.mark.parametrize("page", ["summary.html", "student003/report.html", "student000/report.html"])
def test_pages_fit_1300_px_fetch_nothing_and_screenshot(site, page, tmp_path):
    out, _, _, browser = site
    browser.open(out / page)
    assert browser.js("document.documentElement.scrollWidth") <= WIDTH, "the page scrolls sideways at 1300 px"
    overflow = browser.js("Array.from(document.querySelectorAll('svg')).filter(s => s.getBoundingClientRect()"
                          f".right > {WIDTH} || s.getBoundingClientRect().width < 300).map(s => s.id)")
    assert overflow == [], f"figures wider than the window or squeezed: {overflow}"
    smallest = browser.js("Math.min(...Array.from(document.querySelectorAll('svg text')).map("
                          "t => parseFloat(getComputedStyle(t).fontSize)))")
    assert smallest >= 12
    fetched = [u for u in browser.requested_urls() if not u.startswith(("file:", "data:"))]
    assert fetched == [], f"the page fetched {fetched}"
    shot = browser.screenshot(tmp_path / (page.replace("/", "_").replace(".html", ".png")))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24])[0] == WIDTH
    assert len(data) > 50_000, "the screenshot is nearly blank"
    _keep(shot)


def test_histograms_draw_the_thresholds_and_count_every_student(site, tmp_path):
    out, entries, _, browser = site
    browser.open(out / "summary.html")
    for item_id, metric in (("cnn.accuracy", "accuracy"), ("sr.psnr", "psnr")):
        svg = f"document.getElementById('hist-{item_id}')"
        texts = browser.js(f"Array.from({svg}.querySelectorAll('text')).map(t => t.textContent)")
        scale = scales(None, "quick")[item_id]
        assert f"zero_at {scale.fmt(scale.zero_at)}" in texts and f"full_at {scale.fmt(scale.full_at)}" in texts
        counted = browser.js(f"Array.from({svg}.querySelectorAll('rect title')).map(t => "
                             "parseInt(t.textContent.split(': ').pop())).reduce((a, b) => a + b, 0)")
        graded = [r for _, r, _ in entries if r is not None and any(metric in t.metrics for t in r.tests)]
        assert counted == len(graded)
        zero_x, full_x = browser.js(f"Array.from({svg}.querySelectorAll('line[stroke-dasharray]')).map("
                                    "l => parseFloat(l.getAttribute('x1')))")
        assert zero_x < full_x
        selector = "#hist-" + item_id.replace(".", "\\.")   # CSS: the id holds a dot
        _keep(browser.screenshot(tmp_path / f"hist-{item_id}.png", selector))


def test_a_long_message_shows_an_ellipsis_and_opens_whole(site):
    out, entries, folders, browser = site
    student = next(s for k, (s, r, _) in enumerate(entries) if r is not None and k % 7 == 3 and k % 2)
    browser.open(folders[student] / "report.html")
    cell = "document.querySelector('#items tbody tr:nth-child(2) td:nth-child(4)')"
    assert browser.js(f"{cell}.querySelector('pre').textContent").endswith("…")
    assert "END-OF-MESSAGE" not in browser.js(f"{cell}.innerText")
    browser.click("#items tbody tr:nth-child(2) td:nth-child(4) summary")
    assert "END-OF-MESSAGE" in browser.js(f"{cell}.innerText")


def test_similarity_code_link_opens_the_pair_side_by_side(site):
    out, _, _, browser = site
    browser.open(out / "summary.html")
    assert browser.js("document.getElementById('pair-1').parentElement.open") is False
    browser.click('a[href="#pair-1"]')
    assert browser.js("document.getElementById('pair-1').parentElement.open") is True
    marks = browser.js("document.getElementById('pair-1').querySelectorAll('mark').length")
    assert marks >= 2 and "a lead for a human, not a verdict" in browser.js("document.body.innerText")
