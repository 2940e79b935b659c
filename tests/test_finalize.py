"""grader/finalize.py: whatever happened to the grader, the platform gets a valid results file."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.config import REPO_ROOT
from grader.finalize import finalize, is_valid
from grader.lms import RESULT_FORMATS as FORMATS
from report_fixtures import FIXTURES, REPORTS

SCHEMAS = REPO_ROOT / "grader" / "schemas"
SCHEMA = {"gradescope": "gradescope_results.schema.json", "prairielearn": "prairielearn_results.schema.json"}


def check(fmt: str, path: Path) -> dict | str:
    text = path.read_text()
    assert is_valid(fmt, text), text[:500]
    if fmt in SCHEMA:
        data = json.loads(text)
        jsonschema.validate(data, json.loads((SCHEMAS / SCHEMA[fmt]).read_text()))
        return data
    if fmt == "github-result":
        return json.loads(base64.b64decode(text))
    return text


@pytest.mark.parametrize("fmt", FORMATS)
def test_renders_the_report_when_there_is_one(fmt, tmp_path):
    results = tmp_path / "out" / "results"
    done = finalize(fmt, results, FIXTURES / "report_partial.json", "0", None, 100.0)
    assert done == "results rendered from the grader's report"
    data = check(fmt, results)
    report = REPORTS["partial"]()
    shown = [t for t in report.tests if t.visibility == "visible"]   # sr.psnr is shown after the due date
    assert 0 < report.score < 100 and len(shown) == 8
    if fmt == "gradescope":
        assert data["score"] == report.score and len(data["tests"]) == 9
    elif fmt == "prairielearn":
        assert data["score"] == pytest.approx(report.score / 100, abs=1e-4)
    elif fmt == "github":
        assert data.startswith(f"Points {sum(t.score for t in shown):g}/{sum(t.max_score for t in shown):g}\n")
    else:
        assert sum(t["score"] for t in data["tests"]) == pytest.approx(report.score)
    assert [p.name for p in results.parent.iterdir()] == ["results"]   # no temp file left behind


@pytest.mark.parametrize("fmt", FORMATS)
def test_fallback_without_a_report_names_the_problem(fmt, tmp_path):
    log = tmp_path / "grader.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)) + "error: data files 4 missing\x1b[31m\x00\n")
    results = tmp_path / "results.json"
    results.write_text("stale")
    done = finalize(fmt, results, tmp_path / "missing.json", "2", str(log), 100.0)
    assert done == "the grader exited with status 2 without writing a report: wrote a fallback result with score 0"
    data = check(fmt, results)
    if fmt == "gradescope":
        assert data["score"] == 0 and data["tests"][0]["max_score"] == 100
        assert "status 2" in data["extra_data"]["error"] and "data files 4 missing" in data["extra_data"]["log_tail"]
        assert "line 79" not in data["extra_data"]["log_tail"] and "\x1b" not in data["extra_data"]["log_tail"]
    elif fmt == "prairielearn":
        assert data["gradable"] is False and "status 2" in data["format_errors"][0]
    elif fmt == "github":
        assert data.startswith("Points 0/100\n") and "contact the course staff" in data
    else:
        assert data["max_score"] == 100 and data["tests"][0]["score"] == 0 and data["status"] == "error"


def test_a_damaged_report_still_ends_in_a_fallback(tmp_path):
    report = tmp_path / "report.json"
    report.write_text('{"score": 3, "tests": [')   # killed mid-write by something other than the grader
    results = tmp_path / "results.json"
    done = finalize("gradescope", results, report, "137", None, 100.0)
    assert "could not be rendered (JSONDecodeError" in done
    assert check("gradescope", results)["score"] == 0


def test_command_line_as_the_scripts_call_it(tmp_path):
    report = tmp_path / "report.json"
    shutil.copy(FIXTURES / "report_passing.json", report)
    results = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "grader.finalize", "gradescope", "--results", str(results),
                          "--report", str(report), "--status", "124", "--max-score", "100", "--leaderboard"],
                         cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "finalize: results rendered from the grader's report (the grader exited with status 124)\n"
    assert [e["name"] for e in check("gradescope", results)["leaderboard"]] == ["MNIST accuracy", "SR PSNR (dB)"]


def test_validity_checks_reject_what_the_platforms_reject():
    assert not is_valid("gradescope", '{"tests": []}')            # no score anywhere
    assert not is_valid("prairielearn", '{"score": 1.5}')         # PrairieLearn wants [0, 1]
    assert not is_valid("prairielearn", json.dumps({"score": 1, "output": "x" * 1_100_000}))   # over 1 MiB
    assert is_valid("prairielearn", '{"gradable": false}')
    assert not is_valid("github-result", "not base64!")
    assert not is_valid("github", "Score 3/4")
