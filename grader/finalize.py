"""python -m grader.finalize FORMAT --results FILE --report REPORT --status N --log LOG --max-score M

Run by the packaged entry scripts (Gradescope run_autograder, PrairieLearn run.sh, the GitHub workflow) after
the grader, whatever happened to it: the platform's results file is rendered from the grader's report
(complete, or partial after a timeout or a crash: the grader writes it after every item group and on
SIGTERM), else a fallback with score 0 naming the problem is written. Either way FILE is valid for the
platform and written atomically, so the platform never sees a missing or half-written result.
FORMAT: gradescope | prairielearn | github | github-result. --leaderboard adds Gradescope's leaderboard.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from grader.formats import PL_MAX_BYTES, cap_text, points, render
from grader.result import read_report, write_atomic

FORMATS = ("gradescope", "prairielearn", "github", "github-result")
STAFF = ("This is most likely a problem with the autograder, not with your code: please contact the course "
         "staff.")


def is_valid(fmt: str, text: str) -> bool:
    """Does `text` have the shape the platform needs (the fields it reads, within its size limit)?"""
    if fmt == "github":
        return text.startswith("Points ")
    try:
        data = json.loads(base64.b64decode(text.strip(), validate=True) if fmt == "github-result" else text)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    if fmt == "gradescope":
        return isinstance(data.get("score"), (int, float)) and isinstance(data.get("tests"), list)
    if fmt == "prairielearn":
        score_ok = isinstance(data.get("score"), (int, float)) and 0 <= data["score"] <= 1
        return (data.get("gradable") is False or score_ok) and len(text.encode()) <= PL_MAX_BYTES
    return isinstance(data.get("max_score"), (int, float)) and isinstance(data.get("tests"), list)


def log_tail(path: str | None, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return ""
    return cap_text("\n".join(text.splitlines()[-lines:]), 2000)


def fallback(fmt: str, problem: str, status: str, log: str, max_score: float) -> str:
    """A valid result with score 0 that names `problem`, for when no report could be rendered."""
    message = f"The autograder could not grade this submission ({problem}). {STAFF}"
    if fmt == "gradescope":
        data = {"score": 0.0, "output": message, "output_format": "text", "stdout_visibility": "hidden",
                "extra_data": {"error": problem, "exit_status": status, "log_tail": log},
                "tests": [{"name": "Autograder", "score": 0.0, "max_score": max_score, "status": "failed",
                           "output": message, "output_format": "text", "visibility": "visible"}]}
    elif fmt == "prairielearn":   # not gradable: PrairieLearn does not charge the student an attempt
        data = {"gradable": False, "score": 0.0, "message": message, "output": log, "format_errors": [problem]}
    elif fmt == "github":
        return f"Points 0/{points(max_score)}\n\n## Autograder results\n\n{message}\n"
    else:
        runner = {"version": 1, "max_score": max_score, "status": "error", "tests": [
            {"name": "Autograder", "status": "error", "score": 0, "message": message, "test_code": "autograder",
             "line_no": 1}]}
        return base64.b64encode(json.dumps(runner).encode()).decode() + "\n"
    return json.dumps(data, indent=2) + "\n"


def finalize(fmt: str, results: Path, report: Path, status: str, log: str | None, max_score: float,
             leaderboard: bool = False) -> str:
    """Write `results` and return how it was made (for the log)."""
    problem = f"the grader exited with status {status}"
    if report.is_file():
        try:
            text = render(read_report(report), fmt, leaderboard=leaderboard)
            if is_valid(fmt, text):
                write_atomic(results, text)
                return "results rendered from the grader's report" + ("" if status == "0" else f" ({problem})")
            problem += "; its report rendered to an invalid result"
        except Exception as exc:  # a damaged report must still end in a valid fallback
            problem += f"; its report could not be rendered ({type(exc).__name__}: {exc})"
    else:
        problem += " without writing a report"
    write_atomic(results, fallback(fmt, problem, status, log_tail(log), max_score))
    return f"{problem}: wrote a fallback result with score 0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.finalize", description=__doc__.split("\n")[0])
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("--results", required=True, type=Path, help="the platform's results file to write")
    parser.add_argument("--report", required=True, type=Path, help="the grader's JSON report (may be missing)")
    parser.add_argument("--status", required=True, help="the grader's exit status")
    parser.add_argument("--log", help="the grader's log, whose tail goes into a fallback")
    parser.add_argument("--max-score", required=True, type=float)
    parser.add_argument("--leaderboard", action="store_true", help="gradescope: add the leaderboard")
    args = parser.parse_args(argv)
    done = finalize(args.format, args.results, args.report, args.status, args.log, args.max_score,
                    args.leaderboard)
    print(f"finalize: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
