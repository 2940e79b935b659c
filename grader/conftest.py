"""`pytest grader`: grade a submission (default student/) with one pytest test per rubric item.

Only this folder's conftest is loaded: pytest is pointed at grader/, so a conftest.py or plugin shipped
inside a submission is never collected, and the submission itself only ever runs in worker processes.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from grader.config import PROFILE_CHOICES, REPO_ROOT, SANDBOXES, load_config
from grader.errors import ConfigError, DataError, OracleError
from grader.paths import DataPaths
from grader.progress import ProgressPrinter

_state: dict = {}


def pytest_addoption(parser):
    group = parser.getgroup("grader")
    group.addoption("--submission", default=str(REPO_ROOT / "student"),
                    help="folder holding model.py and pixel_shuffle.py, or a notebook (default: student/)")
    group.addoption("--profile", default="auto", choices=PROFILE_CHOICES,
                    help="auto = full when CUDA is available, else quick (the CPU budget, calibrated for it)")
    group.addoption("--report", default="grading-report.json", help="where the JSON report is written")
    group.addoption("--grading-config", default=None, help="rubric file (default: grading.yaml)")
    group.addoption("--sandbox", default="none", choices=SANDBOXES,
                    help="worker isolation (default none: your own code on your own machine)")


def pytest_generate_tests(metafunc):
    if "item_id" in metafunc.fixturenames:
        opts = metafunc.config.option
        try:
            config = load_config(opts.grading_config, "quick", require_thresholds=False)
        except ConfigError as exc:
            pytest.exit(f"error: {exc}", returncode=2)
        metafunc.parametrize("item_id", [i.id for i in config.items])


def live_progress(config):
    """Progress lines shown as they happen: pytest captures output during a test, so each line is written
    with capturing suspended, through pytest's own terminal writer."""
    capture = config.pluginmanager.getplugin("capturemanager")
    terminal = config.pluginmanager.getplugin("terminalreporter")

    def write(text: str) -> None:
        with capture.global_and_fixture_disabled():
            terminal.write(text, flush=True)
    if terminal is None or capture is None:
        return ProgressPrinter(sys.__stderr__)
    return ProgressPrinter(tty=terminal.isatty(), write=write)


def selected_items(request, config):
    """`config` with only the items whose tests were selected (`-k accuracy`, a test id): the rest are not
    graded, and the terminal says so before grading starts."""
    wanted = {item.callspec.params["item_id"] for item in request.session.items
              if "item_id" in getattr(getattr(item, "callspec", None), "params", {})}
    if wanted >= {i.id for i in config.items}:
        return config
    kept = tuple(i for i in config.items if i.id in wanted)
    terminal = request.config.pluginmanager.getplugin("terminalreporter")
    if terminal is not None:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"grading only the selected items: {', '.join(i.id for i in kept)} "
                                f"({len(config.items) - len(kept)} of {len(config.items)} left out)")
    return dataclasses.replace(config, items=kept)


@pytest.fixture(scope="session")
def graded(request):
    """Grade once per session; every item test reads the same report."""
    from grader.data import Datasets, verify
    from grader.notebook.submission import grade_submission
    from grader.orchestrator import needs_data, resolve_profile
    opts = request.config.option
    try:
        paths = DataPaths.from_environment()
        config = selected_items(request, load_config(opts.grading_config, resolve_profile(opts.profile)))
        if needs_data(config):
            verify(paths.data)
        report = grade_submission(Path(opts.submission), config, Datasets(paths), out=opts.report,
                                  sandbox=opts.sandbox, progress=live_progress(request.config))
        from grader.pages import write_student_page
        write_student_page(report, Path(opts.report).with_suffix(".html"), Path(opts.submission).resolve().name,
                           config.path)
    except (ConfigError, DataError, OracleError, RuntimeError) as exc:
        pytest.exit(f"error: {exc}", returncode=2)
    _state["report"], _state["path"] = report, opts.report
    return report


def pytest_terminal_summary(terminalreporter):
    report = _state.get("report")
    if report is None:
        return
    from grader.progress import score_table
    terminalreporter.section("grade")
    terminalreporter.write_line(score_table(report))
    terminalreporter.write_line(f"JSON report: {Path(_state['path']).resolve()}")
    terminalreporter.write_line(f"Web page:    {Path(_state['path']).with_suffix('.html').resolve()}")
