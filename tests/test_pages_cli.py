"""Where the pages come from: `grade --html FILE`, `pytest grader` (report.html next to the JSON report), and
`batch` (every <out-dir>/<student>/report.html, summary.html, similarity.csv). Real grading, fast rubric.

The batch grades three submissions of tests/similarity_class: ana, ivan (ana's code with new names and
comments) and ben (his own). Their fingerprints come from the real grading pipeline, so the copied pair must
train to identical models there too, and lead similarity.csv."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys

from conftest import STUDENT, fast_rubric
from grader.config import REPO_ROOT
from grader.result import read_report

CLASS = REPO_ROOT / "tests" / "similarity_class"


def run(cmd, timeout=600):
    r = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return r


def test_grade_html_writes_the_students_page(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    page = tmp_path / "page.html"
    r = run([sys.executable, "-m", "grader", "grade", str(STUDENT), "--profile", "quick", "--config", str(rubric),
             "--sandbox", "process", "--out", str(tmp_path / "r.json"), "--html", str(page)])
    assert f"html: {page}" in r.stdout
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<h1>student: 0 / 100</h1>" in text
    assert text.count('<span class="badge"') == 9 and "NotImplementedError" in text


def test_pytest_grader_writes_the_page_next_to_the_json(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    report = tmp_path / "out" / "grading-report.json"
    r = subprocess.run([sys.executable, "-m", "pytest", "grader", "-q", "-p", "no:cacheprovider",
                        "--submission", str(STUDENT), "--report", str(report), "--grading-config", str(rubric)],
                       cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout[-3000:]          # the stub fails its items
    page = report.with_suffix(".html")
    assert f"Web page:    {page}" in r.stdout and page.is_file()
    assert "stub" in page.read_text()


def test_batch_writes_every_page_and_ranks_the_copy_first(tmp_path):
    subs = tmp_path / "subs"
    for name in ("ana", "ivan", "ben"):
        shutil.copytree(CLASS / name, subs / name)
    out, rubric = tmp_path / "out", fast_rubric(tmp_path / "fast.yaml")
    r = run([sys.executable, "-m", "grader", "batch", str(subs), "--out-dir", str(out), "--jobs", "2",
             "--profile", "quick", "--config", str(rubric), "--sandbox", "process"], timeout=1200)
    assert "similarity.csv" in r.stderr
    prints = {}
    for name in ("ana", "ivan", "ben"):
        page = (out / name / "report.html").read_text()
        assert f"<h1>{name}: " in page and 'href="../summary.html"' in page and " dB | HR" in page
        metrics = {t.id: t.metrics for t in read_report(out / name / "report.json").tests}
        prints[name] = (metrics["cnn.accuracy"]["fingerprint"], metrics["sr.psnr"]["fingerprint"])
    assert prints["ana"] == prints["ivan"] and prints["ana"][0] != prints["ben"][0]
    rows = list(csv.DictReader(io.StringIO((out / "similarity.csv").read_text())))
    assert len(rows) == 3
    first = rows[0]
    assert {first["student_a"], first["student_b"]} == {"ana", "ivan"} and first["listed"] == "yes"
    assert first["mnist_behaviour"] == first["sr_behaviour"] == "1.0000"
    assert all(row["listed"] == "no" for row in rows[1:])
    summary = (out / "summary.html").read_text()
    assert summary.count('/report.html">') >= 3 and 'href="#pair-1"' in summary
