"""grades.csv: one row per student, including students whose grading failed or timed out.

Columns: student, one column per item id (its points), total, max, status, duration_s, flags, error.
``status`` is ``complete`` when a Report exists and says it completed; ``infra_error`` when the cluster
lost the job every time it was tried and ``pending`` when it has not finished yet (both: rerun the same
command; the student's code is not at fault); else ``error``. A student with no Report gets empty item
cells, total 0 and the reason in ``error``, so no one silently drops out of the gradebook. Flags are
joined with `` | ``. Cells that a spreadsheet would run as a formula (leading ``= + - @``, tab or CR) are
prefixed with a quote, because student ids and messages come from uploads.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from typing import Any

from grader.config import ITEM_IDS
from grader.result import Report, write_atomic
from grader.sinks import csv_cell

Row = tuple[str, "Report | None", str]
COLUMNS = ("student", *ITEM_IDS, "total", "max", "status", "duration_s", "flags", "error")


spreadsheet_cell = csv_cell   # the one CSV sink (grader/sinks.py): formulas neutralised, CR never bare


def status_of(report: Report | None, error: str) -> str:
    if report is not None and report.complete and not error:
        return "complete"
    if error.startswith("infra_error"):   # grader/executors/tracks.py words these two
        return "infra_error"
    if error.startswith("not graded yet"):
        return "pending"
    return "error"


def gradebook_row(student_id: str, report: Report | None, error: str = "") -> dict[str, str]:
    """The gradebook row for one student; `report` is None when grading produced nothing."""
    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row["student"] = student_id
    if report is None:
        row.update(total=0.0, status=status_of(None, error), error=error or "no report was produced")
    else:
        scores = {t.id: t.score for t in report.tests}
        row.update({i: scores.get(i) for i in ITEM_IDS})
        row.update(total=report.score, max=report.max_score, duration_s=round(report.duration_s, 1),
                   status=status_of(report, error),
                   flags=" | ".join(report.flags), error=error)
    return {k: spreadsheet_cell(v) for k, v in row.items()}


def csv_text(rows: Iterable[Row]) -> str:
    """The CSV text (header + one line per row), sorted by student id."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for student_id, report, error in sorted(rows, key=lambda r: r[0]):
        writer.writerow(gradebook_row(student_id, report, error))
    return buf.getvalue()


def write_grades_csv(rows: Iterable[Row], path: str | os.PathLike) -> None:
    """Write grades.csv atomically. Each row is (student_id, Report or None, error message or "")."""
    write_atomic(path, csv_text(rows))
