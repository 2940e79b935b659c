"""Renderings of real reports (tests/fixtures, from real grades): each validates against its platform's
schema, keeps points exact, never shows hidden items' text, and caps student text the same way everywhere."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st
from lxml import etree

from grader.formats import TEXT_CAP, cap_text, clean_text, summable
from grader.lms import ONE_ENV_VARIABLE as GITHUB_RESULT_MAX_BYTES, ONE_MB as PL_MAX_BYTES, render
from grader.gradebook import COLUMNS, write_grades_csv
from grader.result import Report
from conftest import fast_rubric, write_submission
from grader.config import REPO_ROOT
from report_fixtures import FIXTURES, KINDS, REPORTS

SCHEMAS = REPO_ROOT / "grader" / "schemas"
JUNIT_XSD = etree.XMLSchema(etree.parse(str(FIXTURES / "junit-10.xsd")))


def validate(text: str, schema_name: str) -> dict:
    data = json.loads(text)
    schema = json.loads((SCHEMAS / schema_name).read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)
    return data


def hide(report: Report, item_id: str, visibility: str = "after_due_date") -> Report:
    next(t for t in report.tests if t.id == item_id).visibility = visibility
    return report


def js_number(x: float) -> str:
    """How JavaScript prints a number (GitHub Classroom's reporter): shortest round-trip, no '.0'."""
    return repr(x)[:-2] if x == int(x) else repr(x)


@pytest.mark.parametrize("kind", KINDS)
def test_fixtures_are_real_reports(kind):
    data = validate((FIXTURES / f"report_{kind}.json").read_text(), "report.schema.json")
    metrics = {t["id"]: set(t["metrics"]) for t in data["tests"]}
    if kind in ("passing", "partial"):   # the names the grader records now (not invented or retired ones)
        assert {"accuracy", "accuracy_heldout", "gap", "untrained_accuracy"} <= metrics["cnn.accuracy"]
        assert {"psnr", "bicubic_psnr", "untrained_psnr"} <= metrics["sr.psnr"]
    assert "shifted" not in (FIXTURES / f"report_{kind}.json").read_text()   # retired: the shifted-copies check
    back = REPORTS[kind]()
    assert render(back, "json") == render(Report.from_dict(json.loads(render(back, "json"))), "json")


@pytest.mark.parametrize("kind", KINDS)
def test_gradescope_matches_schema_and_points(kind):
    report = REPORTS[kind]()
    data = validate(render(report, "gradescope"), "gradescope_results.schema.json")
    assert data["score"] == report.score
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(report.score)
    for ours, theirs in zip(report.tests, data["tests"]):
        assert theirs["status"] == ("passed" if ours.status == "passed" else "failed")
        assert theirs["visibility"] == ours.visibility and theirs["extra_data"]["status"] == ours.status
        assert len(theirs["output"]) <= TEXT_CAP + 200


def test_gradescope_partial_credit_is_labelled():
    data = json.loads(render(REPORTS["partial"](), "gradescope"))
    values = next(t for t in data["tests"] if t["extra_data"]["id"] == "pixel_shuffle.values")
    assert values["status"] == "failed" and 0 < values["score"] < values["max_score"]
    assert values["output"].startswith("Partial credit") and "(r1 r2 c)" in values["output"]
    assert all(t["output_format"] == "text" for t in data["tests"])
    flagged = REPORTS["partial"]()
    flagged.flags.append("cnn.accuracy: possibly memorized test images")
    assert json.loads(render(flagged, "gradescope"))["extra_data"]["flags"] == flagged.flags


def test_gradescope_summary_totals_only_visible_items():
    report = hide(REPORTS["passing"](), "sr.psnr")   # 30 points shown after the due date
    data = json.loads(render(report, "gradescope"))
    assert "Score: 70/70" in data["output"] and "100/100" not in data["output"]
    assert "30 more points" in data["output"]
    assert "Score: 100/100" in json.loads(render(REPORTS["passing"](), "gradescope"))["output"]


def test_gradescope_leaderboard_uses_real_metrics_of_visible_items():
    report = REPORTS["passing"]()
    metrics = {t.id: t.metrics for t in report.tests}
    board = json.loads(render(report, "gradescope", leaderboard=True))["leaderboard"]
    assert board == [{"name": "MNIST accuracy", "value": round(metrics["cnn.accuracy"]["accuracy"], 4)},
                     {"name": "SR PSNR (dB)", "value": round(metrics["sr.psnr"]["psnr"], 4)}]
    hidden = json.loads(render(hide(REPORTS["passing"](), "sr.psnr"), "gradescope", leaderboard=True))
    assert [e["name"] for e in hidden["leaderboard"]] == ["MNIST accuracy"]
    assert "leaderboard" not in json.loads(render(report, "gradescope"))


@pytest.mark.parametrize("kind", KINDS)
def test_prairielearn_matches_schema_and_size(kind):
    report = REPORTS[kind]()
    text = render(report, "prairielearn")
    data = validate(text, "prairielearn_results.schema.json")
    assert len(text.encode()) <= PL_MAX_BYTES
    assert data["gradable"] is any(t.status != "error" for t in report.tests)
    assert data["score"] == pytest.approx(report.score / report.max_score, abs=1e-4)
    assert sum(t["points"] for t in data["tests"]) == pytest.approx(report.score)


def test_prairielearn_all_errors_is_not_gradable():
    report = REPORTS["crashed"]()
    for item in report.tests:
        item.error(item.output)
    data = validate(render(report, "prairielearn"), "prairielearn_results.schema.json")
    assert data["gradable"] is False and len(data["format_errors"]) == 9


def test_prairielearn_images_and_output_follow_visibility():
    shown = json.loads(render(REPORTS["passing"](), "prairielearn"))
    psnr = next(t for t in shown["tests"] if t["description"] == "sr.psnr")
    assert len(psnr["images"]) == 3 and psnr["images"][0]["url"].startswith("data:image/png;base64,")
    report = REPORTS["partial"]()   # sr.psnr is after_due_date there
    text = render(report, "prairielearn")
    psnr = next(t for t in json.loads(text)["tests"] if t["description"] == "sr.psnr")
    assert "withheld" in psnr["output"] and "data:image" not in text
    value = next(t for t in report.tests if t.id == "sr.psnr").metrics["psnr"]
    assert f"{value:.2f}" not in text


def test_prairielearn_stays_under_one_mebibyte_with_huge_images_and_floods():
    report = REPORTS["hostile"]()
    report.images = REPORTS["passing"]().images * 40   # ~3 MB of crops
    for item in report.tests:
        item.visibility = "visible"
    hide(report, "sr.psnr", "visible")
    next(t for t in report.tests if t.id == "sr.psnr").status = "partial"
    text = render(report, "prairielearn")
    assert len(text.encode()) <= PL_MAX_BYTES and "Images omitted" in json.loads(text)["message"]


def test_cap_text_keeps_the_message_and_the_tail_and_escapes_controls():
    printed = "".join(f"line {n}\x1b[31m red\x1b[0m\x00\u202e\r\n" for n in range(5000))
    text = cap_text("Grading your code stopped: boom\n--- what your code printed (tail) ---\n" + printed)
    assert text.startswith("Grading your code stopped: boom") and text.rstrip().endswith("line 4999 red\\x00\\u202e")
    assert f"capped at {TEXT_CAP} characters" in text and len(text) <= TEXT_CAP + 100
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text and "\r" not in text
    assert cap_text("short and clean\n") == "short and clean\n"


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from([500, 2000, TEXT_CAP]))
def test_cap_text_is_bounded_and_printable_for_any_text(text, cap):
    out = cap_text(text, cap)
    assert len(out) <= cap + 100
    assert clean_text(out) == out   # nothing left to escape
    out.encode("utf-8")             # no lone surrogates


@pytest.mark.parametrize("kind", KINDS)
def test_junit_validates_against_jenkins_xsd(kind):
    report = REPORTS[kind]()
    text = render(report, "junit")
    doc = etree.fromstring(text.encode())
    JUNIT_XSD.assertValid(doc)
    suite = doc.find("testsuite")
    assert [c.get("name") for c in suite.findall("testcase")] == [t.id for t in report.tests]
    assert int(suite.get("errors")) == sum(t.status == "error" for t in report.tests) == len(suite.findall("testcase/error"))
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert float(props["score"]) == report.score and float(suite.get("time")) == pytest.approx(report.duration_s, abs=1e-3)


def test_junit_time_is_each_items_duration():
    report = REPORTS["passing"]()
    for n, item in enumerate(report.tests):
        item.duration_s = 1.25 * n   # the per-item run time the orchestrator records
    cases = ET.fromstring(render(report, "junit").encode()).iter("testcase")
    assert [float(c.get("time")) for c in cases] == [1.25 * n for n in range(9)]


def test_junit_escapes_hostile_text():
    text = render(REPORTS["hostile"](), "junit")
    assert "\x00" not in text and "\x1b" not in text
    JUNIT_XSD.assertValid(etree.fromstring(text.encode()))
    error = ET.fromstring(text.encode()).find(".//testcase[@name='cnn.accuracy']/error")
    assert "<script>alert(1)</script>" in error.text and "characters cut here" in error.text


@pytest.mark.parametrize("kind", KINDS)
def test_github_points_line_and_fenced_student_text(kind):
    report = REPORTS[kind]()
    text = render(report, "github")
    shown = [t for t in report.tests if t.visibility == "visible"]
    assert text.splitlines()[0] == f"Points {sum(t.score for t in shown):g}/{sum(t.max_score for t in shown):g}"
    outside, fence = [], None
    for line in text.splitlines():  # student text may appear only inside a code fence
        if fence is None and line.startswith("```"):
            fence = line[:len(line) - len("text")]
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            outside.append(line)
    assert fence is None and "<script>" not in "\n".join(outside) and "\x00" not in text


def test_github_result_fits_one_environment_variable():
    report = REPORTS["hostile"]()
    value = render(report, "github-result").strip()
    assert len(value) <= GITHUB_RESULT_MAX_BYTES
    runner = json.loads(base64.b64decode(value))
    assert runner["status"] == "error" and [t["test_code"] for t in runner["tests"]] == [t.id for t in report.tests]
    assert [t["line_no"] for t in runner["tests"]] == list(range(1, len(report.tests) + 1))   # not "line undefined"
    # the workflow hands it to the reporter in GRADE_RESULTS: exec must accept it (Linux: 128 KiB per string)
    run = subprocess.run([sys.executable, "-c", "import os; print(len(os.environ['GRADE_RESULTS']))"],
                         env={**os.environ, "GRADE_RESULTS": value}, capture_output=True, text=True)
    assert run.returncode == 0 and int(run.stdout) == len(value)


def test_github_result_total_has_no_float_noise():
    report = REPORTS["passing"]()
    for item, score in zip(report.tests, [5, 10, 3.65, 5, 5, 0, 30, 3.15, 19.24]):
        item.score = score
    report.recompute_score()
    naive = 0.0
    for item in report.tests:
        naive += item.score
    assert js_number(naive) == "81.03999999999999"   # what the reporter printed before the correction
    runner = json.loads(base64.b64decode(render(report, "github-result")))
    total = 0.0
    for test in runner["tests"]:   # the reporter's own loop: acc.totalScore += score
        total += test["score"]
    assert f"Points {js_number(total)}/{js_number(runner['max_score'])}" == "Points 81.04/100"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 3000), min_size=1, max_size=12))
def test_summable_totals_are_exact_for_any_cent_scores(cents):
    scores = [c / 100 for c in cents]
    total = 0.0
    for s in summable(scores):
        total += s
    assert total == round(sum(cents) / 100, 2)


def test_csv_rows_follow_the_reports(tmp_path):
    path = tmp_path / "grades.csv"
    lost = "infra_error: Slurm ended job 12_0 as NODE_FAIL (tried 3 times on slurm; rerun the same command to try again)"
    queued = "not graded yet: queued on slurm as job 13_2; rerun the same command to collect it"
    MEMORIZED = "cnn.accuracy: test accuracy 0.9912 but 0.9120 on held-out images (gap 0.079 > 0.05): possibly memorized"
    rows = [(k, REPORTS[k](), "") for k in KINDS] + [("dave", None, "timed out after 900 s"), ("=cmd|x", None, ""),
                                                     ("erin", None, lost), ("finn", None, queued)]
    rows[1][1].flags.append(MEMORIZED)   # the partial report, flagged as checks/cnn.py words it
    write_grades_csv(rows, path)
    table = {r["student"]: r for r in csv.DictReader(io.StringIO(path.read_text()))}
    assert tuple(next(iter(table.values())).keys()) == COLUMNS and len(table) == 8
    assert (table["erin"]["status"], table["erin"]["error"]) == ("infra_error", lost)
    assert (table["finn"]["status"], table["finn"]["total"]) == ("pending", "0")
    for kind in KINDS:
        report = REPORTS[kind]()
        assert table[kind]["total"] == f"{report.score:g}"
        assert [table[kind][t.id] for t in report.tests] == [f"{t.score:g}" for t in report.tests]
    assert table["dave"]["status"] == "error" and table["dave"]["error"] == "timed out after 900 s"
    assert table["'=cmd|x"]["status"] == "error"  # formula injection neutralised
    assert table["partial"]["flags"] == MEMORIZED and table["passing"]["flags"] == ""


def test_csv_row_is_one_whole_record_even_with_a_newline_in_a_cell():
    # flags carry student text: a newline in one must stay inside its quoted cell, not cut the record short
    partial = REPORTS["partial"]()
    partial.flags.append("printed:\nline two, \"quoted\"")
    header = next(csv.reader(io.StringIO(render(partial, "csv"))))
    rows = list(csv.reader(io.StringIO(render(partial, "csv-row"))))
    assert len(rows) == 1, rows
    record = dict(zip(header, rows[0]))
    assert record["flags"].endswith("printed:\nline two, \"quoted\"")
    assert record["total"] == f"{partial.score:g}" and record["status"] == "complete"
    assert [record[t.id] for t in partial.tests] == [f"{t.score:g}" for t in partial.tests]
    assert render(partial, "csv") == ",".join(header) + "\n" + render(partial, "csv-row")


def test_github_shows_no_result_of_an_item_not_released_yet():
    report = hide(hide(REPORTS["passing"](), "cnn.accuracy", "hidden"), "sr.psnr")
    psnr, cnn = (next(t for t in report.tests if t.id == i) for i in ("sr.psnr", "cnn.accuracy"))
    assert psnr.score > 0 and cnn.score > 0
    text = render(report, "github")
    shown = [t for t in report.tests if t.visibility == "visible"]
    got, most = sum(t.score for t in shown), sum(t.max_score for t in shown)
    assert text.splitlines()[0] == f"Points {got:g}/{most:g}" and most == report.max_score - 60
    assert f"{report.score:g}/" not in text and "60 more points are in items whose results are released later" in text
    for t, when in ((psnr, "after the due date"), (cnn, "never (instructors only)")):
        row = next(line for line in text.splitlines() if f"(`{t.id}`)" in line)
        assert row == f"| 🔒 shown {when} | {t.name} (`{t.id}`) | ?/{t.max_score:g} |"
        assert f"### {t.name}" not in text and t.output[:40] not in text
        for value in t.metrics.values():
            if isinstance(value, float):
                assert f"{value:.2f}" not in text, (t.id, value)


def test_unknown_format_is_named():
    with pytest.raises(ValueError, match="unknown output format 'xml'.*gradescope"):
        render(REPORTS["passing"](), "xml")


@pytest.mark.parametrize("fmt", ["gradescope", "junit", "github-result"])
def test_format_without_format_out_prints_only_the_rendering(fmt, tmp_path):
    """`grade --format X` alone: stdout is the rendering and nothing else (the score table goes to stderr)."""
    folder = write_submission(tmp_path / "sub", model="def oops(:\n", pixel_shuffle="import (\n")   # fast
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--profile", "quick",
                          "--config", str(fast_rubric(tmp_path / "fast.yaml")), "--sandbox", "process",
                          "--out", str(tmp_path / "r.json"), "--format", fmt], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    if fmt == "junit":
        JUNIT_XSD.assertValid(etree.fromstring(run.stdout.encode()))
    elif fmt == "github-result":
        assert json.loads(base64.b64decode(run.stdout))["max_score"] == 100
    else:
        assert json.loads(run.stdout)["score"] == 0
    assert "Score: 0/100" in run.stderr and f"report: {tmp_path / 'r.json'}" in run.stderr
