"""HTML renderings of Reports: each student's report.html and, for a batch, the class pages.

    <out-dir>/summary.html             the class (grader/summary.py): histograms, roster, similarity, crops
    <out-dir>/<student>/report.html    one student (grader/pages/student.py)
    <out-dir>/similarity.csv           every pair of students (grader/similarity)

Thresholds drawn on the figures come from the rubric's calibration section for the reports' profile.
"""
from __future__ import annotations

import os
from pathlib import Path

from grader.result import Report, write_atomic


def write_student_page(report: Report, path: str | os.PathLike, student: str | None = None,
                       rubric: str | os.PathLike | None = None, summary_link: str = "", scales: dict | None = None) -> None:
    """report.html for one report; the rubric defaults to the one the report was graded with, `scales` (from
    grader.pages.thresholds) to that rubric's for the report's profile."""
    from grader.pages import thresholds
    from grader.pages.student import render_student_page
    student = student or Path(str(report.submission.get("path", "submission"))).name
    if scales is None:
        scales = thresholds.scales(rubric or report.config.get("path") or None, report.profile)
    write_atomic(path, render_student_page(report, student, scales, summary_link))


def write_class_pages(out_dir: Path, entries: list[tuple[str, Report | None, str]], folders: dict[str, Path],
                      rubric: str | os.PathLike | None, profile: str) -> None:
    """summary.html, similarity.csv and every <folder>/report.html under `out_dir`. `folders`: student ->
    its folder under out_dir, holding submission/model.py and submission/pixel_shuffle.py."""
    from grader import similarity
    from grader.pages import thresholds
    from grader.summary import render_summary_html
    scales = thresholds.scales(rubric, profile)
    for student, report, _ in entries:
        if report is not None and student in folders:
            write_student_page(report, folders[student] / "report.html", student, summary_link="../summary.html",
                               scales=scales)
    result = similarity.compare_class({s: f / "submission" for s, f in folders.items()},
                                      {s: r for s, r, _ in entries}, similarity.load_settings(rubric))
    write_atomic(out_dir / "similarity.csv", similarity.csv_text(result))
    names = {s: f.name for s, f in folders.items()}
    write_atomic(out_dir / "summary.html", render_summary_html(entries, names, scales, result))
