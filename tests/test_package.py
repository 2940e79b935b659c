"""`python -m grader package`: the generated Gradescope / PrairieLearn entry scripts run end to end on the CPU
with a fast rubric in a temp dir laid out like /autograder or /grade, and their results validate against
the platform schemas, including when grading itself fails (fallback results). The GitHub workflow parses."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import REFERENCE, fast_rubric, write_submission
from grader.config import REPO_ROOT

SCHEMAS = REPO_ROOT / "grader" / "schemas"


def grader(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def validate(path: Path, schema: str) -> dict:
    data = json.loads(path.read_text())
    jsonschema.validate(data, json.loads((SCHEMAS / schema).read_text()))
    return data


def run_script(script: Path, env_extra: dict, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADER_PYTHON": sys.executable, "GRADER_SANDBOX": "process", **env_extra}
    env.pop("PYTHONPATH", None)
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory):
    """An /autograder-like tree holding the extracted autograder.zip (fast rubric)."""
    tmp = tmp_path_factory.mktemp("gs")
    rubric = fast_rubric(tmp / "fast.yaml")
    zpath = tmp / "autograder.zip"
    r = grader("package", "gradescope", "--out", str(zpath), "--config", str(rubric), "--profile", "quick")
    assert r.returncode == 0, r.stderr
    root = tmp / "autograder"
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder", "grading.yaml", "finalize_results.py", "requirements.txt",
                "grader/__main__.py", "datasets/mnist/raw/train-images-idx3-ubyte.gz"} <= set(names)
        for name in ("setup.sh", "run_autograder"):  # at the zip root, executable, with a shebang
            assert stat.S_IMODE(zf.getinfo(name).external_attr >> 16) == 0o755
            assert zf.read(name).startswith(b"#!/usr/bin/env bash\n")
            assert b"\r\n" not in zf.read(name)
        assert not any("__pycache__" in n for n in names)
        assert zf.read("grading.yaml") == rubric.read_bytes()
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(root / "source" / name)]).returncode == 0
    return root


def test_gradescope_reference_end_to_end(gradescope_root):
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    nested = write_submission(root / "submission" / "my-project")   # students often upload a folder
    (nested / "notes.txt").write_text("ignored")
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root)})
    assert r.returncode == 0, r.stdout + r.stderr
    data = validate(root / "results" / "results.json", "gradescope_results.schema.json")
    assert len(data["tests"]) == 9 and data["score"] >= 40   # every non-training item passes with the fast rubric
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    assert by_id["pixel_shuffle.values"]["status"] == "passed"
    assert data["extra_data"]["complete"] is True


def test_gradescope_fallback_when_grading_fails(gradescope_root, tmp_path):
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    write_submission(root / "submission")
    results = root / "results" / "results.json"
    # the grader refuses to run (no data): the Python fallback writes score 0 and the error
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root), "GRADER_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0
    data = validate(results, "gradescope_results.schema.json")
    assert data["score"] == 0 and "status 2" in data["extra_data"]["error"]
    assert "contact the course staff" in data["output"]
    # no usable Python at all: the static fallback is still valid
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": "/bin/false"})
    assert r.returncode == 0
    data = validate(results, "gradescope_results.schema.json")
    assert data["score"] == 0 and data["tests"][0]["max_score"] == 100


def test_gradescope_timeout_renders_partial_report(gradescope_root):
    """An outer timeout (SIGTERM) still yields results: rendered from the grader's partial report."""
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    # Net(r) never returns, so the 25 s outer timeout fires however fast this machine grades the rest
    hanging = (REFERENCE / "model.py").read_text().replace(
        "        self.relu = nn.ReLU()", "        while True:\n            pass\n        self.relu = nn.ReLU()")
    assert "while True" in hanging
    write_submission(root / "submission", model=hanging)
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root), "GRADER_TIMEOUT": "25"})
    assert r.returncode == 0, r.stdout + r.stderr
    data = validate(root / "results" / "results.json", "gradescope_results.schema.json")
    assert data["extra_data"]["complete"] is False or "fallback" in r.stdout
    assert len(data["tests"]) in (1, 9)


def test_prairielearn_end_to_end(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    out = tmp_path / "pl"
    r = grader("package", "prairielearn", "--out", str(out), "--config", str(rubric))
    assert r.returncode == 0, r.stderr
    assert os.access(out / "run.sh", os.X_OK) and (out / "Dockerfile").is_file()
    assert json.loads((out / "info.json.snippet").read_text())["externalGradingOptions"]["entrypoint"] == "/grader/run.sh"
    grade_root = tmp_path / "grade"
    # a model.py that does not compile: fast, and exercises the error path; pixel shuffle still earns points
    write_submission(grade_root / "student", model="def oops(:\n")
    r = run_script(out / "run.sh", {"GRADE_ROOT": str(grade_root)})
    assert r.returncode == 0, r.stdout + r.stderr
    results = grade_root / "results" / "results.json"
    data = validate(results, "prairielearn_results.schema.json")
    assert data["gradable"] is True and 0.25 <= data["score"] < 0.5
    assert len(results.read_bytes()) < 1_000_000
    # harness failure: not gradable (the student is not charged an attempt), still schema-valid
    r = run_script(out / "run.sh", {"GRADE_ROOT": str(grade_root), "GRADER_DATA_DIR": str(tmp_path / "nodata")})
    data = validate(results, "prairielearn_results.schema.json")
    assert data["gradable"] is False and data["score"] == 0
    r = run_script(out / "run.sh", {"GRADE_ROOT": str(grade_root), "GRADER_PYTHON": "/bin/false"})
    assert validate(results, "prairielearn_results.schema.json")["gradable"] is False


def test_github_workflow_parses(tmp_path):
    r = grader("package", "github", "--out", str(tmp_path), "--grader-repo", "course/grader", "--grader-ref", "v1")
    assert r.returncode == 0, r.stderr
    wf = yaml.safe_load((tmp_path / ".github" / "workflows" / "classroom.yml").read_text())
    triggers = wf.get("on", wf.get(True))   # YAML 1.1 reads the key `on` as True
    assert "push" in triggers
    assert wf["env"]["GRADER_REPOSITORY"] == "course/grader" and wf["env"]["GRADER_REF"] == "v1"
    (job,) = wf["jobs"].values()
    steps = {s.get("name"): s for s in job["steps"]}
    assert "--format github" in steps["Grade"]["run"] and "GITHUB_STEP_SUMMARY" in steps["Grade"]["run"]
    assert "pip install" in steps["Install dependencies"]["run"]
    assert steps["Report points to GitHub Classroom"]["uses"].startswith("classroom-resources/autograding-grading-reporter")
    text = (tmp_path / ".github" / "workflows" / "classroom.yml").read_text()
    assert not __import__("re").search(r"@[A-Z_]+@", text)
