"""python -m grader.finalize FORMAT --results FILE --report REPORT --status N --log LOG --max-score M

Run by the packaged entry scripts (Gradescope run_autograder, PrairieLearn run.sh, the GitHub workflow) after
the grader, whatever happened to it: the platform's results file is rendered from the grader's report
(complete, or partial after a timeout or a crash: the grader writes it after every item group and on
SIGTERM), else a fallback with score 0 naming the problem is written. Either way FILE is valid for the
platform and written atomically, so the platform never sees a missing or half-written result.
FORMAT: a platform's results format (grader/lms.py: gradescope, prairielearn, github, github-result).
--leaderboard adds Gradescope's leaderboard.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.formats import cap_text
from grader.lms import FORMAT, RESULT_FORMATS, render
from grader.result import read_report, write_atomic

STAFF = ("This is most likely a problem with the autograder, not with your code: please contact the course "
         "staff.")


def is_valid(fmt: str, text: str) -> bool:
    """Does `text` have the shape the platform needs (the fields it reads, within its size limit)?"""
    return FORMAT[fmt].accepts(text)


def log_tail(path: str | None, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return ""
    return cap_text("\n".join(text.splitlines()[-lines:]), 2000)


def fallback(fmt: str, problem: str, status: str, log: str, max_score: float) -> str:
    """A valid result with score 0 that names `problem`, for when no report could be rendered."""
    message = f"The autograder could not grade this submission ({problem}). {STAFF}"
    return FORMAT[fmt].fallback(message, problem, status, log, max_score)


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
    parser.add_argument("format", choices=RESULT_FORMATS)
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
