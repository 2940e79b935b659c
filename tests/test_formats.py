"""Every format is a rendering of the same Report: schema-valid, consistent points, hostile text contained."""
from __future__ import annotations

import base64
import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader.formats import FORMATS, render
from grader.gradebook import COLUMNS, write_grades_csv
from grader.result import Report
from report_fixtures import ALL

SCHEMAS = Path(__file__).resolve().parent.parent / "grader" / "schemas"
KINDS = sorted(ALL)


def validate(text: str, schema_name: str) -> dict:
    data = json.loads(text)
    schema = json.loads((SCHEMAS / schema_name).read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_json_matches_schema_and_round_trips(kind):
    report = ALL[kind]()
    data = validate(render(report, "json"), "report.schema.json")
    back = Report.from_dict(data)
    assert back.score == report.score and [t.status for t in back.tests] == [t.status for t in report.tests]


@pytest.mark.parametrize("kind", KINDS)
def test_gradescope_matches_schema_and_points(kind):
    report = ALL[kind]()
    data = validate(render(report, "gradescope"), "gradescope_results.schema.json")
    assert data["score"] == report.score
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(report.score)
    assert {t["status"] for t in data["tests"]} <= {"passed", "failed"}
    for ours, theirs in zip(report.tests, data["tests"]):
        assert theirs["status"] == ("passed" if ours.status == "passed" else "failed")
        assert theirs["visibility"] == ours.visibility and theirs["extra_data"]["status"] == ours.status


def test_gradescope_partial_keeps_points_and_says_partial():
    data = json.loads(render(ALL["partial"](), "gradescope"))
    acc = next(t for t in data["tests"] if t["extra_data"]["id"] == "cnn.accuracy")
    assert acc["status"] == "failed" and 0 < acc["score"] < acc["max_score"]
    assert acc["output"].startswith("Partial credit")
    assert all(t["output_format"] == "text" for t in data["tests"]) and data["output_format"] == "text"
    assert data["extra_data"]["flags"] and data["tests"][8]["extra_data"]["metrics"]["nan_metric"] is None


@pytest.mark.parametrize("kind", KINDS)
def test_prairielearn_matches_schema(kind):
    report = ALL[kind]()
    text = render(report, "prairielearn")
    data = validate(text, "prairielearn_results.schema.json")
    assert len(text.encode()) < 1_000_000
    assert data["gradable"] is (kind != "crashed")
    if kind == "crashed":
        assert data["format_errors"] and all("SyntaxError" in e for e in data["format_errors"])
    else:
        assert data["score"] == pytest.approx(report.score / report.max_score, abs=1e-4)
        assert sum(t["points"] for t in data["tests"]) == pytest.approx(report.score)


def test_prairielearn_images_and_withheld_output():
    data = json.loads(render(ALL["partial"](), "prairielearn"))
    psnr = next(t for t in data["tests"] if t["description"] == "sr.psnr")
    assert psnr["images"][0]["url"].startswith("data:image/png;base64,")
    assert "withheld" in psnr["output"] and "27.9" not in psnr["output"]  # after_due_date item


def test_prairielearn_drops_images_over_one_megabyte():
    report = ALL["passing"]()
    report.images = [{"label": "huge", "png_base64": "A" * 1_100_000}]
    text = render(report, "prairielearn")
    assert len(text.encode()) < 1_000_000 and "Images omitted" in json.loads(text)["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_junit_parses_and_counts(kind):
    report = ALL[kind]()
    root = ET.fromstring(render(report, "junit").encode())
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [t.id for t in report.tests]
    assert int(suite.get("errors")) == sum(t.status == "error" for t in report.tests) == len(suite.findall("testcase/error"))
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert float(props["score"]) == report.score and float(props["max_score"]) == report.max_score
    for case, item in zip(cases, report.tests):
        cprops = {p.get("name"): p.get("value") for p in case.find("properties")}
        assert float(cprops["score"]) == item.score and cprops["status"] == item.status


def test_junit_survives_control_characters():
    text = render(ALL["partial"](), "junit")
    assert "\x00" not in text and "\x1b" not in text
    failure = ET.fromstring(text.encode()).find(".//testcase[@name='pixel_shuffle.values']/failure")
    assert "<script>alert(1)</script>" in failure.text  # escaped in XML, intact after parsing


@pytest.mark.parametrize("kind", KINDS)
def test_github_points_line_and_summary(kind):
    report = ALL[kind]()
    text = render(report, "github")
    assert text.splitlines()[0] == f"Points {report.score:g}/{report.max_score:g}"
    outside, inside, fence = [], [], None
    for line in text.splitlines():  # student text may appear raw only inside a code fence
        if fence is None and line.startswith("```"):
            fence = line.rstrip("text")
        elif fence is not None and line == fence:
            fence = None
        else:
            (outside if fence is None else inside).append(line)
    assert fence is None and "<script>" not in "\n".join(outside) and "\x00" not in text
    runner = json.loads(base64.b64decode(render(report, "github-result")))
    assert runner["max_score"] == report.max_score
    assert sum(t["score"] for t in runner["tests"]) == pytest.approx(report.score)
    assert runner["status"] == {"passing": "pass", "partial": "fail", "crashed": "error"}[kind]


def test_csv_and_gradebook_rows(tmp_path):
    path = tmp_path / "grades.csv"
    rows = [(k, ALL[k](), "") for k in KINDS] + [("dave", None, "timed out after 900 s"), ("=cmd|x", None, "")]
    write_grades_csv(rows, path)
    table = list(csv.DictReader(io.StringIO(path.read_text())))
    assert tuple(table[0].keys()) == COLUMNS and len(table) == 5
    by = {r["student"]: r for r in table}
    assert by["passing"]["total"] == "100" and by["passing"]["status"] == "complete"
    assert by["dave"]["status"] == "error" and by["dave"]["error"] == "timed out after 900 s"
    assert by["'=cmd|x"]["status"] == "error"  # formula injection neutralised
    assert "suspicious" in by["partial"]["flags"]
    single = list(csv.DictReader(io.StringIO(render(ALL["partial"](), "csv"))))
    assert len(single) == 1 and single[0]["cnn.accuracy"] == "18.6"
    assert render(ALL["partial"](), "csv-row") == render(ALL["partial"](), "csv").splitlines(keepends=True)[1]


def test_unknown_format_is_named():
    with pytest.raises(ValueError, match="unknown output format 'xml'.*gradescope"):
        render(ALL["passing"](), "xml")
    assert set(FORMATS) >= {"json", "gradescope", "prairielearn", "junit", "github", "csv"}
