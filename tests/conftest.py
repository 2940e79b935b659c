"""Shared fixtures: real data from GRADER_DATA_DIR, the reference solution, and fast rubrics."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from grader.config import DEFAULT_CONFIG, REPO_ROOT, load_config
from grader.data import Datasets
from grader.orchestrator import grade
from grader.paths import DataPaths

REFERENCE = REPO_ROOT / "reference"
STUDENT = REPO_ROOT / "student"

# The test session is an entry point: the data folder is resolved once, to an absolute path, and handed to
# every child process too (a relative GRADER_DATA_DIR would otherwise mean another folder in each cwd).
if not os.environ.get("GRADER_DATA_DIR") and (REPO_ROOT.parent / "shared" / "datasets").is_dir():
    os.environ["GRADER_DATA_DIR"] = str(REPO_ROOT.parent / "shared" / "datasets")
PATHS = DataPaths.from_environment()
os.environ.update(PATHS.environment())
DATA = Datasets(PATHS)


def write_submission(folder: Path, model: str | None = None, pixel_shuffle: str | None = None) -> Path:
    """A submission folder: the reference's files unless replaced by the given source text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("model.py", model), ("pixel_shuffle.py", pixel_shuffle)):
        if text is None:
            shutil.copy(REFERENCE / name, folder / name)
        else:
            (folder / name).write_text(text)
    return folder


def fast_rubric(path: Path, mnist_steps: int = 20, sr_steps: int = 5, timeout_s: float | None = None) -> Path:
    """grading.yaml with tiny training budgets (and optionally short timeouts) for behaviour tests.

    Thresholds are kept, so trained items score partially; tests of the training path assert statuses and
    messages, and the real budgets are exercised by the reference test with the committed rubric."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for item in raw["items"]:
        if item["id"] == "cnn.accuracy":
            item["train"]["steps"] = {"quick": mnist_steps, "full": mnist_steps}
        if item["id"] == "sr.psnr":
            item["train"]["steps"] = {"quick": sr_steps, "full": sr_steps}
        if timeout_s is not None:
            item["timeout_s"] = timeout_s
    if timeout_s is not None:
        drop_calibrated_cpu_limits(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def drop_calibrated_cpu_limits(raw: dict, item_ids=None) -> None:
    """A rubric's hand-set timeout_s applies to a trained item only without a calibrated cpu_limit_s."""
    for profile in (raw.get("calibration") or {}).values():
        for item_id, values in (profile or {}).items():
            if item_ids is None or item_id in item_ids:
                values.pop("cpu_limit_s", None)


@pytest.fixture
def fast_config(tmp_path):
    return load_config(fast_rubric(tmp_path / "fast.yaml"), "quick")


@pytest.fixture
def grade_files(tmp_path, fast_config):
    """grade_files(model=..., pixel_shuffle=..., config=..., sandbox=...) -> Report, with the fast rubric."""
    counter = iter(range(1000))

    def run(model=None, pixel_shuffle=None, config=None, sandbox="process", **kwargs):
        folder = write_submission(tmp_path / f"sub{next(counter)}", model, pixel_shuffle)
        return grade(folder, config or fast_config, DATA, sandbox=sandbox, **kwargs)
    return run


def by_id(report):
    return {t.id: t for t in report.tests}


def require_system(available: bool, what: str, install: str) -> None:
    """A test that needs a system package (or root, a cgroup, ...): on a user's machine it skips, naming what is
    missing and the command that provides it; in CI (GRADER_REQUIRE_SYSTEM_DEPS=1, set by .ci/run) it fails,
    so CI always proves it. The one place that decides "skip here, required in CI"."""
    if available:
        return
    message = f"{what} is not available here; install it with `{install}`"
    if os.environ.get("GRADER_REQUIRE_SYSTEM_DEPS") == "1":
        pytest.fail(f"{message} (required in CI: GRADER_REQUIRE_SYSTEM_DEPS=1)")
    pytest.skip(message)
