"""Renderings of one `Report` for the platforms that consume grades. Never a second grading path. Each format
(its name, its size cap, the platform it belongs to) is declared in grader/lms.py, whose `render` calls these.

Conventions (decisions documented here, tested in tests/test_formats.py):

* **Student text, every rendering alike** (`cap_text`): ANSI colour sequences are dropped, other control
  characters (and bidi overrides, lone surrogates) are shown escaped as ``\\xNN`` / ``\\uNNNN``, and an
  item's text is capped at TEXT_CAP characters: the start (the grader's own message) and the tail (the end of
  what the code printed) are kept around a line saying how much was cut. Platforms with a size limit shrink
  the cap further until the file fits (PrairieLearn 1 MB, the GitHub result one 128 KiB variable: lms.py).
* **Hidden items stay hidden**: text shown to students never includes the output of an item that is not
  ``visible``, and the always-visible summary only totals the visible items.
* ``json``: ``Report.to_dict()`` verbatim, validated by schemas/report.schema.json. NaN/inf become null.
* ``gradescope``: results.json per https://gradescope-autograders.readthedocs.io/en/latest/specs/ . Test
  ``status`` is only "passed"/"failed", so ``partial`` and ``error`` map to "failed" while ``score`` keeps
  the partial points; the output starts with "Partial credit" or "ERROR". Visibility is passed through; all
  text is ``text`` (never html/md: messages quote student code). ``flags`` go to top-level ``extra_data``
  (stored, not shown to students). ``leaderboard=True`` adds MNIST accuracy and PSNR (visible items only).
* ``prairielearn``: /grade/results/results.json per https://prairielearn.readthedocs.io/en/latest/externalGrading/ .
  ``score`` is the fraction in [0, 1]. ``gradable`` is false only when every item errored (nothing could be
  evaluated), so the student is not charged an attempt. PrairieLearn has no per-test visibility and always
  shows the score: items that are not ``visible`` show points, their output and the SR crops are withheld.
* ``junit``: one <testsuite> valid under Jenkins' junit-10.xsd: ``failed``/``partial`` -> <failure>,
  ``error`` -> <error>, points in the failure message and <system-out>, the item's run time as ``time``.
* ``github``: GitHub Classroom's reporter announces ``Points X/Y``, so the first line is exactly that, then a
  Markdown summary for $GITHUB_STEP_SUMMARY. ``github-result`` is the base64 runner-result JSON the reporter
  reads from ``<RUNNER>_RESULTS``; the reporter adds the scores up in JavaScript, so they are chosen to sum
  to the 2-decimal total exactly (no ``81.03999999999999``).
* ``csv``: a header line and one gradebook row (see gradebook.py); ``csv-row``: that row alone.
"""
from __future__ import annotations

import base64
import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any, Callable

from grader.items import SPECS, TRAINED
from grader.result import ItemResult, Report
from grader.rubric_keys import RELEASED, VISIBLE

TEXT_CAP = 6000                 # characters of one item's text in any rendering
CAPS = (TEXT_CAP, 2000, 500)    # tried in turn where a platform limits the file size
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


STATUS_LABELS = {"passed": "Passed", "partial": "Partial credit", "failed": "Failed", "error": "ERROR"}   # by STATUSES
STATUS_ICONS = {"passed": "✅", "partial": "🟡", "failed": "❌", "error": "💥"}


def clean_text(text: str) -> str:
    """Printable text: colour codes dropped, line ends normalised, other control characters escaped."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text)


def cap_text(text: str, cap: int = TEXT_CAP) -> str:
    """`clean_text(text)` in at most about `cap` characters: its start and its tail, the cut stated."""
    text = clean_text(text)
    if len(text) <= cap:
        return text
    head = text[:cap // 4].rsplit("\n", 1)[0]
    tail = text[len(text) - (cap - len(head) - 100):].split("\n", 1)[-1]
    omitted = len(text) - len(head) - len(tail)
    return f"{head}\n[... {omitted} characters cut here: each text is capped at {cap} characters ...]\n{tail}"


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


def _fit(build: Callable[[int], str], max_bytes: int) -> str:
    """build(cap) with the largest cap in CAPS whose result fits in max_bytes (else the smallest)."""
    for cap in CAPS:
        text = build(cap)
        if len(text.encode()) <= max_bytes:
            break
    return text


def points(value: float) -> str:
    return f"{round(value, 2):g}"


def status_line(item: ItemResult) -> str:
    """One human line: what happened to this item."""
    return f"{STATUS_LABELS.get(item.status, item.status)}: {points(item.score)}/{points(item.max_score)} points"


def released(item: ItemResult) -> bool:
    """May the student see this item's result now? Only a `visible` item's, in every rendering."""
    return item.visibility == VISIBLE


def shown_output(item: ItemResult, cap: int = TEXT_CAP) -> str:
    if released(item):
        return cap_text(item.output, cap)
    return "(details withheld until results are released)"


def visible_points(report: Report) -> tuple[float, float]:
    """(score, most) over the items whose results are released now."""
    visible = [t for t in report.tests if released(t)]
    return sum(t.score for t in visible), sum(t.max_score for t in visible)


def overview(report: Report) -> str:
    """The summary every student sees: totals of the visible items only."""
    got, most = visible_points(report)
    line = f"Score: {points(got)}/{points(most)}"
    if not all(released(t) for t in report.tests):
        line += (f" on the items shown now; {points(report.max_score - most)} more points are in items "
                 f"whose results are released later")
    lines = [f"{line} (profile {report.profile}, device {report.device})"]
    if report.estimate_note:
        lines.append(report.estimate_note)
    if not report.complete:
        lines.append("Grading did not complete; some items could not be evaluated. Contact the course staff.")
    return "\n".join(lines)


def as_json(report: Report) -> str:
    return _dump(report.to_dict())


def _leaderboard(report: Report) -> list[dict[str, Any]]:
    by_id = {t.id: t for t in report.tests}
    board = []
    for spec in TRAINED:
        item = by_id.get(spec.id)
        value = item.metrics.get(spec.metric) if item and released(item) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            board.append({"name": f"{spec.label} ({spec.unit})" if spec.unit else spec.label,
                          "value": round(float(value), 4)})
    return board


def as_gradescope(report: Report, max_bytes: int, leaderboard: bool = False) -> str:
    def build(cap: int) -> str:
        tests = [{
            "name": item.name, "name_format": "text", "number": str(n), "score": item.score,
            "max_score": item.max_score, "status": "passed" if item.status == "passed" else "failed",
            "output": f"{status_line(item)}\n{cap_text(item.output, cap)}".rstrip(), "output_format": "text",
            "tags": [item.id, item.id.split(".")[0]], "visibility": item.visibility,
            "extra_data": {"id": item.id, "status": item.status, "metrics": item.metrics},
        } for n, item in enumerate(report.tests, 1)]
        result = {
            "score": report.score, "execution_time": int(round(report.duration_s)),
            "output": overview(report), "output_format": "text", "test_output_format": "text",
            "test_name_format": "text", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"max_score": report.max_score, "profile": report.profile, "device": report.device,
                           "versions": report.versions, "flags": [cap_text(f, 500) for f in report.flags],
                           "complete": report.complete, "submission": report.submission},
        }
        if leaderboard:
            result["leaderboard"] = _leaderboard(report)
        return _dump(result)
    return _fit(build, max_bytes)


def as_prairielearn(report: Report, max_bytes: int) -> str:
    gradable = not report.tests or any(t.status != "error" for t in report.tests)
    owner = next((t for t in report.tests if t.id in SPECS and SPECS[t.id].images), None)   # the crops' item
    images = [{"label": cap_text(im["label"], 200), "url": "data:image/png;base64," + im["png_base64"]}
              for im in report.images] if owner is not None and released(owner) else []

    def build(cap: int, with_images: bool) -> str:
        tests = [{"name": item.name, "description": item.id, "points": item.score, "max_points": item.max_score,
                  "message": status_line(item), "output": shown_output(item, cap)} for item in report.tests]
        result: dict[str, Any] = {
            "gradable": gradable, "score": round(report.score / report.max_score, 4) if report.max_score else 0.0,
            "message": overview(report), "output": "", "tests": tests}
        if not gradable:
            result["format_errors"] = [f"{t.id}: {shown_output(t, cap)}" for t in report.tests]
        if images and with_images:
            next(t for t in tests if t["description"] == owner.id)["images"] = images
        elif images:
            result["message"] += "\nImages omitted: results.json would exceed PrairieLearn's 1 MB limit."
        return _dump(result)
    for with_images in (True, False):
        text = _fit(lambda cap: build(cap, with_images), max_bytes)
        if len(text.encode()) <= max_bytes:
            break
    return text


def as_junit(report: Report) -> str:
    counts = {s: sum(t.status == s for t in report.tests) for s in ("failed", "partial", "error")}
    suite = ET.Element("testsuite", name=f"grader.{report.profile}", tests=str(len(report.tests)),
                       failures=str(counts["failed"] + counts["partial"]), errors=str(counts["error"]),
                       skipped="0", time=f"{report.duration_s:.3f}")
    props = ET.SubElement(suite, "properties")
    fixed = [("score", report.score), ("max_score", report.max_score), ("profile", report.profile),
             ("device", report.device), ("sandbox", report.sandbox), ("complete", report.complete)]
    for name, value in fixed + [("flag", cap_text(f, 500)) for f in report.flags]:
        ET.SubElement(props, "property", name=name, value=clean_text(str(value)))
    for item in report.tests:
        case = ET.SubElement(suite, "testcase", classname=item.id.split(".")[0], name=item.id,
                             time=f"{float(getattr(item, 'duration_s', 0.0) or 0.0):.3f}")
        if item.status != "passed":
            tag = "error" if item.status == "error" else "failure"
            node = ET.SubElement(case, tag, message=status_line(item), type=item.status)
            node.text = cap_text(item.output)
        ET.SubElement(case, "system-out").text = f"{item.name}\n{status_line(item)}\n{cap_text(item.output)}"
    root = ET.Element("testsuites", name="grader", tests=suite.get("tests", "0"),
                      failures=suite.get("failures", "0"), errors=suite.get("errors", "0"))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _md_block(text: str) -> str:
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def as_github(report: Report) -> str:
    got, most = visible_points(report)   # an item not released yet shows neither its verdict nor its points
    out = [f"Points {points(got)}/{points(most)}", "", "## Autograder results", "",
           _md_cell(overview(report)), "", "| | Item | Points |", "|---|---|---|"]
    out += [f"| {STATUS_ICONS.get(t.status, '?')} {t.status} | {_md_cell(t.name)} (`{t.id}`) | "
            f"{points(t.score)}/{points(t.max_score)} |" if released(t) else
            f"| 🔒 shown {RELEASED[t.visibility]} | {_md_cell(t.name)} (`{t.id}`) | ?/{points(t.max_score)} |"
            for t in report.tests]
    for t in report.tests:
        if t.status != "passed" and released(t):
            out += ["", f"### {_md_cell(t.name)}", "", _md_block(shown_output(t))]
    return "\n".join(out) + "\n"


def summable(scores: list[float]) -> list[float]:
    """`scores` changed as little as possible so that adding them up left to right from 0 (as GitHub
    Classroom's reporter does, in JavaScript doubles) gives exactly the total rounded to 2 decimals: the last
    score nudged by a few ulps, or where no nudge can (0.47 + x is never 2.52), the total on the first score."""
    if not scores:
        return []
    target, acc = round(math.fsum(scores), 2), 0.0
    for s in scores[:-1]:
        acc += s
    last = target - acc
    for _ in range(4):
        if acc + last == target:
            return scores[:-1] + [last]
        last = math.nextafter(last, math.inf if acc + last < target else -math.inf)
    return [target] + [0.0] * (len(scores) - 1)


def as_github_result(report: Report, max_bytes: int) -> str:
    def build(cap: int) -> str:
        scores = summable([t.score for t in report.tests])
        runner = {"version": 1, "max_score": report.max_score,
                  "status": "pass" if all(t.status == "passed" for t in report.tests) else
                            "error" if any(t.status == "error" for t in report.tests) else "fail",
                  "tests": [{"name": t.name, "status": "pass" if t.status == "passed" else
                             "error" if t.status == "error" else "fail", "score": score,
                             "message": f"{status_line(t)}\n{shown_output(t, cap // 4)}", "test_code": t.id,
                             "line_no": n}   # the reporter prints "line undefined" without one: the item's number
                            for n, (t, score) in enumerate(zip(report.tests, scores), start=1)]}
        return base64.b64encode(json.dumps(json_safe(runner)).encode()).decode() + "\n"
    return _fit(build, max_bytes)


def as_csv(report: Report) -> str:
    from grader.gradebook import csv_text  # local import: gradebook is the owner of the row layout
    return csv_text([(str(report.submission.get("path", "")), report, "")])


def as_csv_row(report: Report) -> str:
    """The csv format without its header: one CSV record, which spans several lines when a quoted cell (a flag,
    an error) holds a newline, so it is what follows the header, not the text's second line."""
    from grader.gradebook import csv_text
    return as_csv(report)[len(csv_text([])):]
