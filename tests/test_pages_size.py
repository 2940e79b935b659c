"""A class of 300: every page self-contained and small enough to mail or attach, the CSV complete.

The 300 reports are generated (tests/class_reports.py) with incompressible noise crops of the real crops'
size, so the measured sizes are upper bounds; their code is the 14 files of tests/similarity_class in turn,
so about 21 copies of each: the similarity section shows its maximum number of pairs with code.
"""
from __future__ import annotations

import re

import pytest

from class_reports import write_class
from grader.similarity import load_settings

SUMMARY_LIMIT = 1_500_000    # bytes, for 300 students (measured 0.87 MB)
STUDENT_LIMIT = 200_000      # bytes per report.html (measured 0.13 MB, 3 crops)
EXTERNAL = re.compile(r"""(src|href|action|poster|data)\s*=\s*["']?\s*(?!data:image/png;base64,|#)[a-z][a-z0-9+.-]*:""", re.I)


@pytest.fixture(scope="module")
def big_class(tmp_path_factory):
    out = tmp_path_factory.mktemp("class300")
    entries, folders = write_class(out, 300)
    return out, entries, folders


def assert_self_contained(page: str) -> None:
    assert EXTERNAL.search(page) is None, EXTERNAL.search(page)
    assert re.search(r"(src|href)\s*=\s*[\"']?\s*//", page) is None        # protocol-relative
    assert "url(" not in page and "@import" not in page and "<link" not in page and "<iframe" not in page
    assert re.search(r"<script[^>]*\ssrc", page) is None and page.count("<script") <= 1
    assert "<script>alert(1)</script>" not in page


def test_summary_of_300_is_small_and_self_contained(big_class):
    out, entries, _ = big_class
    page = (out / "summary.html").read_text()
    size = len(page.encode())
    print(f"summary.html for 300 students: {size:,} bytes")
    assert size < SUMMARY_LIMIT
    assert_self_contained(page)
    assert page.count('<tr data-student="') == 300
    assert page.count('<details><summary>#') == load_settings().max_pairs


def test_every_student_page_is_small_and_self_contained(big_class):
    out, entries, folders = big_class
    sizes = []
    for student, report, _ in entries:
        path = folders[student] / "report.html"
        assert path.is_file() == (report is not None)
        if report is not None:
            page = path.read_text()
            assert_self_contained(page)
            sizes.append(len(page.encode()))
    print(f"report.html: largest {max(sizes):,} bytes, {len(sizes)} pages")
    assert max(sizes) < STUDENT_LIMIT


def test_similarity_csv_has_every_pair(big_class):
    out, _, _ = big_class
    lines = (out / "similarity.csv").read_text().splitlines()
    assert len(lines) == 1 + 300 * 299 // 2
    assert ",yes," in lines[1] and ",no," in lines[-1]
