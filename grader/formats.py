"""Renderings of one `Report` for the platforms that consume grades. Never a second grading path.

Conventions (decisions documented here, tested in tests/test_formats.py):

* ``json``: ``Report.to_dict()`` verbatim, validated by schemas/report.schema.json. NaN/inf become null.
* ``gradescope``: results.json per https://gradescope-autograders.readthedocs.io/en/latest/specs/ .
  Gradescope's test ``status`` is only "passed" or "failed", so our ``partial`` and ``error`` map to
  "failed" while ``score`` keeps the partial points (Gradescope shows 7.5/10 in red); the output starts
  with "Partial credit" or "ERROR" so the student sees which. Our visibility vocabulary is Gradescope's,
  passed through. All text fields are declared ``text`` (never html/md: messages quote student code).
  ``flags`` go to top-level ``extra_data`` (stored, not shown to students).
* ``prairielearn``: /grade/results/results.json per https://prairielearn.readthedocs.io/en/latest/externalGrading/ .
  ``score`` is the fraction in [0, 1]. ``gradable`` is false only when every item errored (nothing could
  be evaluated: missing file, import failure), so the student is not charged an attempt, as PrairieLearn
  intends for submissions that do not compile. PrairieLearn has no per-test visibility, so items that are
  not ``visible`` show points but their output is withheld. SR crops go on the sr.psnr test as data URIs
  and are dropped (with a note) if the file would exceed PrairieLearn's 1 MB limit.
* ``junit``: one <testsuite>; ``failed``/``partial`` -> <failure>, ``error`` -> <error>; points in
  <properties>. For CI and instructors, so nothing is withheld. XML-illegal control characters are removed.
* ``github``: GitHub Classroom's reporter announces ``Points X/Y`` (classroom-resources/
  autograding-grading-reporter, notify-classroom.js), so the first line is exactly that, followed by a
  Markdown summary for $GITHUB_STEP_SUMMARY. ``github-result`` is the base64 runner-result JSON that the
  reporter reads from ``<RUNNER>_RESULTS`` (write ``result=...`` to $GITHUB_OUTPUT). Classroom itself has
  been sunset upstream; the Points line and summary remain useful in any Actions workflow.
* ``csv``: a header line and one gradebook row (see gradebook.py); ``csv-row``: that row alone.
"""
from __future__ import annotations

import base64
import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from grader.result import ItemResult, Report

FORMATS = ("json", "gradescope", "prairielearn", "junit", "github", "github-result", "csv", "csv-row")
PL_MAX_BYTES = 1_000_000
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render(report: Report, fmt: str) -> str:
    """Render `report` in `fmt` (one of FORMATS); the returned text is what to write to the file."""
    renderers = {"json": _json, "gradescope": _gradescope, "prairielearn": _prairielearn,
                 "junit": _junit, "github": _github, "github-result": _github_result, "csv": _csv,
                 "csv-row": lambda r: _csv(r).splitlines(keepends=True)[1]}
    if fmt not in renderers:
        raise ValueError(f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return renderers[fmt](report)


def json_safe(value: Any) -> Any:
    """Strict-JSON copy: NaN/inf -> None, tuples -> lists, unknown objects -> str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _dump(data: Any) -> str:
    return json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"


def status_line(item: ItemResult) -> str:
    """One human line: what happened to this item."""
    label = {"passed": "Passed", "partial": "Partial credit", "failed": "Failed", "error": "ERROR"}
    return f"{label.get(item.status, item.status)}: {item.score:g}/{item.max_score:g} points"


def _overview(report: Report) -> str:
    lines = [f"Score: {report.score:g}/{report.max_score:g} (profile {report.profile}, device {report.device})"]
    if report.estimate_note:
        lines.append(report.estimate_note)
    if not report.complete:
        lines.append("Grading did not complete; some items could not be evaluated. Contact the course staff.")
    return "\n".join(lines)


def _json(report: Report) -> str:
    return _dump(report.to_dict())


def _gradescope(report: Report) -> str:
    tests = [{
        "name": item.name, "name_format": "text", "number": str(n), "score": item.score,
        "max_score": item.max_score, "status": "passed" if item.status == "passed" else "failed",
        "output": f"{status_line(item)}\n{item.output}".rstrip(), "output_format": "text",
        "tags": [item.id, item.id.split(".")[0]], "visibility": item.visibility,
        "extra_data": {"id": item.id, "status": item.status, "metrics": item.metrics},
    } for n, item in enumerate(report.tests, 1)]
    return _dump({
        "score": report.score, "execution_time": int(round(report.duration_s)),
        "output": _overview(report), "output_format": "text", "test_output_format": "text",
        "test_name_format": "text", "stdout_visibility": "hidden", "tests": tests,
        "extra_data": {"max_score": report.max_score, "profile": report.profile, "device": report.device,
                       "versions": report.versions, "flags": report.flags, "complete": report.complete,
                       "submission": report.submission},
    })


def _visible_output(item: ItemResult) -> str:
    if item.visibility == "visible":
        return item.output
    return "(details withheld until results are released)"


def _prairielearn(report: Report) -> str:
    images = [{"label": im["label"], "url": "data:image/png;base64," + im["png_base64"]} for im in report.images]
    tests = [{"name": item.name, "description": item.id, "points": item.score, "max_points": item.max_score,
              "message": status_line(item), "output": _visible_output(item)} for item in report.tests]
    gradable = not report.tests or any(t.status != "error" for t in report.tests)
    result: dict[str, Any] = {
        "gradable": gradable, "score": round(report.score / report.max_score, 4) if report.max_score else 0.0,
        "message": _overview(report), "output": "", "tests": tests,
    }
    if not gradable:
        result["format_errors"] = [f"{t.id}: {t.output}" for t in report.tests]
    target = next((t for t, it in zip(tests, report.tests) if it.id == "sr.psnr"), result)
    if images:
        target["images"] = images
    text = _dump(result)
    if len(text.encode()) > PL_MAX_BYTES and images:
        del target["images"]
        result["message"] += "\nImages omitted: results.json would exceed PrairieLearn's 1 MB limit."
        text = _dump(result)
    return text


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)


def _junit(report: Report) -> str:
    counts = {s: sum(t.status == s for t in report.tests) for s in ("failed", "partial", "error")}
    suite = ET.Element("testsuite", name=f"grader.{report.profile}", tests=str(len(report.tests)),
                       failures=str(counts["failed"] + counts["partial"]), errors=str(counts["error"]),
                       skipped="0", time=f"{report.duration_s:.3f}")
    props = ET.SubElement(suite, "properties")
    fixed = [("score", report.score), ("max_score", report.max_score), ("profile", report.profile),
             ("device", report.device), ("sandbox", report.sandbox), ("complete", report.complete)]
    for name, value in fixed + [("flag", f) for f in report.flags]:
        ET.SubElement(props, "property", name=name, value=_xml_text(str(value)))
    for item in report.tests:
        case = ET.SubElement(suite, "testcase", classname=item.id.split(".")[0], name=item.id,
                             time=f"{float(item.metrics.get('duration_s', 0) or 0):.3f}")
        cprops = ET.SubElement(case, "properties")
        for name, value in (("score", item.score), ("max_score", item.max_score), ("status", item.status)):
            ET.SubElement(cprops, "property", name=name, value=str(value))
        if item.status != "passed":
            tag = "error" if item.status == "error" else "failure"
            node = ET.SubElement(case, tag, message=_xml_text(status_line(item)), type=item.status)
            node.text = _xml_text(item.output)
        ET.SubElement(case, "system-out").text = _xml_text(f"{item.name}\n{item.output}")
    root = ET.Element("testsuites", name="grader", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors=suite.get("errors", "0"))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _md_block(text: str) -> str:
    text = _XML_ILLEGAL.sub("\ufffd", text)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def _github(report: Report) -> str:
    icon = {"passed": "✅", "partial": "🟡", "failed": "❌", "error": "💥"}
    out = [f"Points {report.score:g}/{report.max_score:g}", "", "## Autograder results", "",
           _md_cell(_overview(report)), "", "| | Item | Points |", "|---|---|---|"]
    out += [f"| {icon.get(t.status, '?')} {t.status} | {_md_cell(t.name)} (`{t.id}`) | {t.score:g}/{t.max_score:g} |"
            for t in report.tests]
    for t in report.tests:
        if t.status != "passed":
            out += ["", f"### {_md_cell(t.name)}", "", _md_block(_visible_output(t))]
    return "\n".join(out) + "\n"


def _github_result(report: Report) -> str:
    runner = {"version": 1, "max_score": report.max_score,
              "status": "pass" if all(t.status == "passed" for t in report.tests) else
                        "error" if any(t.status == "error" for t in report.tests) else "fail",
              "tests": [{"name": t.name, "status": "pass" if t.status == "passed" else
                         "error" if t.status == "error" else "fail", "score": t.score,
                         "message": _visible_output(t), "test_code": t.id} for t in report.tests]}
    return base64.b64encode(json.dumps(json_safe(runner)).encode()).decode() + "\n"


def _csv(report: Report) -> str:
    from grader.gradebook import csv_text  # local import: gradebook is the owner of the row layout
    return csv_text([(str(report.submission.get("path", "")), report, "")])
