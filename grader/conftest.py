"""`pytest grader`: grade a submission (default student/) with one pytest test per rubric item.

Only this folder's conftest is loaded: pytest is pointed at grader/, so a conftest.py or plugin shipped
inside a submission is never collected, and the submission itself only ever runs in worker processes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grader.config import REPO_ROOT, ConfigError, load_config
from grader.data import DataError

_state: dict = {}


def pytest_addoption(parser):
    group = parser.getgroup("grader")
    group.addoption("--submission", default=str(REPO_ROOT / "student"),
                    help="folder holding model.py and pixel_shuffle.py (default: student/)")
    group.addoption("--profile", default="auto", choices=["quick", "full", "auto"],
                    help="auto = full when CUDA is available, else quick (an estimate)")
    group.addoption("--report", default="grading-report.json", help="where the JSON report is written")
    group.addoption("--grading-config", default=None, help="rubric file (default: grading.yaml)")
    group.addoption("--sandbox", default="none", choices=["auto", "none", "process", "bwrap"],
                    help="worker isolation (default none: your own code on your own machine)")


def pytest_generate_tests(metafunc):
    if "item_id" in metafunc.fixturenames:
        opts = metafunc.config.option
        try:
            config = load_config(opts.grading_config, "quick", require_thresholds=False)
        except ConfigError as exc:
            pytest.exit(f"error: {exc}", returncode=2)
        metafunc.parametrize("item_id", [i.id for i in config.items])


@pytest.fixture(scope="session")
def graded(request):
    """Grade once per session; every item test reads the same report."""
    from grader.__main__ import progress_printer
    from grader.data import verify
    from grader.orchestrator import grade, resolve_profile
    opts = request.config.option
    try:
        config = load_config(opts.grading_config, resolve_profile(opts.profile))
        verify()
        report = grade(Path(opts.submission), config, out=opts.report, sandbox=opts.sandbox,
                       progress=progress_printer(sys.__stderr__))
    except (ConfigError, DataError, RuntimeError) as exc:
        pytest.exit(f"error: {exc}", returncode=2)
    _state["report"], _state["path"] = report, opts.report
    return report


def pytest_terminal_summary(terminalreporter):
    report = _state.get("report")
    if report is None:
        return
    from grader.__main__ import score_table
    terminalreporter.section("grade")
    terminalreporter.write_line(score_table(report))
    terminalreporter.write_line(f"JSON report: {Path(_state['path']).resolve()}")
