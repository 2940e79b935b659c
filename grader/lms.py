"""Every output format and every LMS platform, each declared once; the CLI, finalize and package ask here.

A `Format` is one rendering of a report (grader/formats.py renders): its size cap, and for a platform's results
file the check that the platform will accept it and the fallback written when no report could be rendered
(grader/finalize.py). A `Platform` is one LMS: the formats its entry script writes, its documented limits (what
grader/platforms.py advises from), its template folder under grader/templates/ and its package builder.

Limits are the platforms' documented defaults: Gradescope gives a container 768 MB and 0.5 CPU by default
(raisable in the autograder settings) and a job at most 40 minutes (gradescope-autograders.readthedocs.io,
troubleshooting); PrairieLearn's grader host gives 2 GiB and 0.9 CPU and caps `timeout` at 600 s
(PrairieLearn docs, externalGrading; apps/grader-host config); a GitHub-hosted runner for a private repository
has 2 CPUs and 7 GB and runs a job at most 6 hours (docs.github.com, about GitHub-hosted runners).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable

from grader import formats
from grader.formats import points
from grader.result import Report

ONE_MB = 1_000_000              # PrairieLearn's grader host rejects results.json over 1 MB (Gradescope: kept alike)
ONE_ENV_VARIABLE = 100_000      # the GitHub result is one env var: Linux caps a variable at 128 KiB (MAX_ARG_STRLEN)


@dataclass(frozen=True)
class Format:
    name: str
    renderer: Callable[..., str]       # formats.as_*: (report[, max_bytes][, leaderboard]) -> text
    max_bytes: int | None = None       # the renderer shrinks its texts until the file fits
    leaderboard: bool = False          # the renderer can add a leaderboard
    accepts: Callable[[str], bool] | None = None       # a platform's results file: will the platform read it?
    fallback: Callable[[str, str, str, str, float], str] | None = None   # (message, problem, status, log, max)

    def render(self, report: Report, leaderboard: bool = False) -> str:
        options: dict[str, Any] = {}
        if self.max_bytes is not None:
            options["max_bytes"] = self.max_bytes
        if self.leaderboard:
            options["leaderboard"] = leaderboard
        return self.renderer(report, **options)


@dataclass(frozen=True)
class Platform:
    name: str
    target: str                  # `python -m grader package TARGET`
    results: tuple[Format, ...]  # what its entry script writes (python -m grader.finalize FORMAT)
    memory_mb: int               # default container memory
    cpus: float                  # default CPU share the outer time limit is planned with
    max_timeout_s: int           # the longest job the platform allows
    templates: str               # its folder under grader/templates/
    builder: str                 # its function in grader/package.py: named, not imported, because package.py is
                                 # the course staff's and never shipped into an LMS image (bundle.INSTRUCTOR_ONLY)
    default_out: str             # where `package` writes by default
    next_step: str               # what the course staff does with it
    footprint_run: str | None    # its run in grader/templates/footprint.json (bench/platform_bench.py)
    staff_sets_timeout: bool     # the course staff types the job timeout into the platform's settings

    def build(self, *args, **kwargs):
        return getattr(import_module("grader.package"), self.builder)(*args, **kwargs)


def _object(text: str, encoded: bool = False) -> dict:
    """`text` as a JSON object (from base64 when `encoded`), else {}."""
    try:
        data = json.loads(base64.b64decode(text.strip(), validate=True) if encoded else text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _gradescope_accepts(text: str) -> bool:
    data = _object(text)
    return _number(data.get("score")) and isinstance(data.get("tests"), list)


def _prairielearn_accepts(text: str) -> bool:
    data = _object(text)
    score_ok = _number(data.get("score")) and 0 <= data["score"] <= 1
    return bool(data) and (data.get("gradable") is False or score_ok) and len(text.encode()) <= ONE_MB


def _github_accepts(text: str) -> bool:
    return text.startswith("Points ")


def _github_result_accepts(text: str) -> bool:
    data = _object(text, encoded=True)
    return _number(data.get("max_score")) and isinstance(data.get("tests"), list)


def _gradescope_fallback(message: str, problem: str, status: str, log: str, max_score: float) -> str:
    return json.dumps({
        "score": 0.0, "output": message, "output_format": "text", "stdout_visibility": "hidden",
        "extra_data": {"error": problem, "exit_status": status, "log_tail": log},
        "tests": [{"name": "Autograder", "score": 0.0, "max_score": max_score, "status": "failed",
                   "output": message, "output_format": "text", "visibility": "visible"}]}, indent=2) + "\n"


def _prairielearn_fallback(message: str, problem: str, status: str, log: str, max_score: float) -> str:
    # not gradable: PrairieLearn does not charge the student an attempt
    return json.dumps({"gradable": False, "score": 0.0, "message": message, "output": log,
                       "format_errors": [problem]}, indent=2) + "\n"


def _github_fallback(message: str, problem: str, status: str, log: str, max_score: float) -> str:
    return f"Points 0/{points(max_score)}\n\n## Autograder results\n\n{message}\n"


def _github_result_fallback(message: str, problem: str, status: str, log: str, max_score: float) -> str:
    runner = {"version": 1, "max_score": max_score, "status": "error", "tests": [
        {"name": "Autograder", "status": "error", "score": 0, "message": message, "test_code": "autograder",
         "line_no": 1}]}
    return base64.b64encode(json.dumps(runner).encode()).decode() + "\n"


GRADESCOPE = Platform(
    "Gradescope", target="gradescope",
    results=(Format("gradescope", formats.as_gradescope, max_bytes=ONE_MB, leaderboard=True,
                    accepts=_gradescope_accepts, fallback=_gradescope_fallback),),
    memory_mb=768, cpus=0.5, max_timeout_s=40 * 60, templates="gradescope", builder="build_gradescope",
    default_out="autograder.zip", next_step="upload it as the Gradescope autograder",
    footprint_run="gradescope-default", staff_sets_timeout=True)
PRAIRIELEARN = Platform(
    "PrairieLearn", target="prairielearn",
    results=(Format("prairielearn", formats.as_prairielearn, max_bytes=ONE_MB,
                    accepts=_prairielearn_accepts, fallback=_prairielearn_fallback),),
    memory_mb=2048, cpus=0.9, max_timeout_s=600, templates="prairielearn", builder="build_prairielearn",
    default_out="prairielearn",
    next_step="build and push grader-image/, then copy question/ into your course (README.md)",
    footprint_run="prairielearn", staff_sets_timeout=False)   # timeout: in info.json, written by the builder
GITHUB_CLASSROOM = Platform(
    "GitHub Classroom", target="github",
    results=(Format("github", formats.as_github, accepts=_github_accepts, fallback=_github_fallback),
             Format("github-result", formats.as_github_result, max_bytes=ONE_ENV_VARIABLE,
                    accepts=_github_result_accepts, fallback=_github_result_fallback)),
    # planned at 1 CPU of the runner's 2: the workflow's timeout is a ceiling, not a budget the grade needs
    memory_mb=7 * 1024, cpus=1.0, max_timeout_s=6 * 3600, templates="github", builder="build_github",
    default_out="classroom-template", next_step="the GitHub Classroom template repository (CLASSROOM.md)",
    footprint_run=None, staff_sets_timeout=False)   # timeout: the workflow's

PLATFORMS = {p.target: p for p in (GRADESCOPE, PRAIRIELEARN, GITHUB_CLASSROOM)}
PLAIN = (Format("json", formats.as_json), Format("junit", formats.as_junit), Format("csv", formats.as_csv),
         Format("csv-row", formats.as_csv_row))   # for any CI or gradebook, no platform's contract
FORMAT = {f.name: f for f in (PLAIN[0], *(f for p in PLATFORMS.values() for f in p.results), *PLAIN[1:])}
FORMATS = tuple(FORMAT)
RESULT_FORMATS = tuple(name for name, f in FORMAT.items() if f.accepts)   # what finalize writes


def render(report: Report, fmt: str, leaderboard: bool = False) -> str:
    """Render `report` in `fmt` (one of FORMATS); the returned text is what to write to the file."""
    if fmt not in FORMAT:
        raise ValueError(f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return FORMAT[fmt].render(report, leaderboard)
