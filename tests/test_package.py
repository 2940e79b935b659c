"""`python -m grader package`: the templates fill strictly, the scripts lint, and each package runs end to end
in its platform's file layout with a fast rubric (/autograder for Gradescope, /grade for PrairieLearn, a
runner's workspace for the GitHub workflow), including when grading fails. Here the image's Python is this
machine's; tests/test_gradescope_py310.py builds the Gradescope image with Python 3.10 as Gradescope does."""
from __future__ import annotations

import base64
import json
import uuid
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

from cgroup_limits import run_limited, unavailable
from conftest import PATHS, REFERENCE, fast_rubric, require_system, write_submission
from grader.config import REPO_ROOT
from grader.lms import ONE_MB as PL_MAX_BYTES
from grader.package import question_info
from grader.templates import TemplateError, fill, variables
from report_fixtures import HOSTILE_MODEL, HOSTILE_SHUFFLE

SCHEMAS = REPO_ROOT / "grader" / "schemas"
TEMPLATES = REPO_ROOT / "grader" / "templates"


def grader(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def validate(path: Path, schema: str) -> dict:
    data = json.loads(path.read_text())
    jsonschema.validate(data, json.loads((SCHEMAS / schema).read_text()))
    return data


def run_script(script: Path, env_extra: dict, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADER_PYTHON": sys.executable, "GRADER_SANDBOX": "process",
           "GRADER_CACHE_DIR": str(PATHS.cache), **env_extra}   # the decoded data of earlier tests
    env.pop("PYTHONPATH", None)
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=timeout)


def shell_scripts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and (p.suffix == ".sh" or p.name == "run_autograder")]


def test_fill_is_strict_about_variables():
    assert variables("prairielearn/run.sh") == {"VERSION"}
    assert "grader 9.9" in fill("prairielearn/run.sh", {"VERSION": "9.9"})
    with pytest.raises(TemplateError, match="no value for: VERSION"):
        fill("prairielearn/run.sh", {})
    with pytest.raises(TemplateError, match="values not used by the template: VERSON"):
        fill("prairielearn/run.sh", {"VERSION": "1", "VERSON": "1"})


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory):
    """An /autograder-like tree holding the extracted autograder.zip (fast rubric)."""
    tmp = tmp_path_factory.mktemp("gs")
    rubric = fast_rubric(tmp / "fast.yaml")
    zpath = tmp / "autograder.zip"
    r = grader("package", "gradescope", "--out", str(zpath), "--config", str(rubric), "--profile", "quick")
    assert r.returncode == 0, r.stderr
    assert "memory:" in r.stdout and "timeout: set the autograder timeout to at least" in r.stdout
    root = tmp / "autograder"
    with zipfile.ZipFile(zpath) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "grade.sh", "install.sh", "grading.yaml", "requirements.txt",
                "requirements-torch.txt", "grader/finalize.py",
                "datasets/mnist/raw/t10k-labels-idx1-ubyte.gz"} <= names
        assert not any(n.startswith(("reference/", "tests/", "bench/")) or "__pycache__" in n for n in names)
        assert not {"grader/package.py", "grader/calibrate.py", "grader/conftest.py", "grader/templates/__init__.py"} & names
        for name in ("setup.sh", "run_autograder"):  # at the zip root, executable, with a shebang
            assert stat.S_IMODE(zf.getinfo(name).external_attr >> 16) == 0o755
            assert zf.read(name).startswith(b"#!/usr/bin/env bash\n") and b"\r\n" not in zf.read(name)
        assert zf.read("grading.yaml") == rubric.read_bytes()
        pins = zf.read("requirements.txt").decode().split()
        assert "numpy==2.2.6" in pins and "pillow==12.3.0" in pins   # what Ubuntu 22.04's Python 3.10 can install
        assert b"-m grader data verify\n" in zf.read("install.sh")
        zf.extractall(root / "source")
    return root


def test_scripts_lint(gradescope_root, tmp_path):
    assert grader("package", "prairielearn", "--out", str(tmp_path / "pl")).returncode == 0
    scripts = shell_scripts(gradescope_root / "source") + shell_scripts(tmp_path / "pl")
    assert len(scripts) == 7
    for script in scripts:
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0, script
    checker = shutil.which("shellcheck")
    require_system(checker is not None, "shellcheck", "apt-get install -y shellcheck")
    lint = subprocess.run([checker, "--shell=bash", "--severity=warning", *map(str, scripts)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_no_data_downloads_when_the_image_is_built(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    r = grader("package", "gradescope", "--no-data", "--out", str(tmp_path / "a.zip"), "--config", str(rubric))
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert not any(n.startswith("datasets/") and not n.endswith("SHA256SUMS") for n in zf.namelist())
        install = zf.read("install.sh").decode()
    assert '"$VENV/bin/python" -m grader data download\n' in install and "data verify" not in install


def test_full_profile_must_fit_gradescopes_forty_minutes(tmp_path):
    r = grader("package", "gradescope", "--profile", "full", "--out", str(tmp_path / "a.zip"), "--no-data")
    assert r.returncode == 2 and "40-minute maximum" in r.stderr and "--profile quick" in r.stderr
    assert not (tmp_path / "a.zip").exists()
    r = grader("package", "gradescope", "--profile", "full", "--timeout", "2400", "--out", str(tmp_path / "a.zip"))
    assert r.returncode == 2 and "--timeout 2340 or less" in r.stderr
    r = grader("package", "gradescope", "--profile", "full", "--timeout", "2300", "--out", str(tmp_path / "a.zip"),
               "--no-data")
    assert r.returncode == 0, r.stderr
    assert "is below what the items' CPU limits take" in r.stdout and "at least 40 minutes" in r.stdout


def test_cpu_advice_compares_each_groups_cpu_seconds_with_its_cpu_limit():
    from grader.config import DEFAULT_CONFIG, load_config
    from grader.lms import GRADESCOPE, PRAIRIELEARN
    from grader.platforms import _cpu_advice
    config = load_config(DEFAULT_CONFIG, "quick")
    sr_limit = config.item("sr.psnr").cpu_limit_s
    run = {"groups": [{"items": ["cnn.interface", "cnn.accuracy"], "cpu_s": 10.0},
                      {"items": ["sr.interface", "sr.psnr"], "cpu_s": 0.5 * sr_limit}]}
    for platform in (GRADESCOPE, PRAIRIELEARN):   # the CPU share changes the wall time, never the grade
        advice = _cpu_advice(platform, run, config)
        assert advice.startswith("CPU: any share is enough") and f"{platform.cpus:g} CPU" in advice, advice
        assert f"(sr.psnr) used {0.5 * sr_limit:g} CPU-seconds" in advice
    run["groups"][1]["cpu_s"] = 0.9 * sr_limit
    assert "WARNING" in _cpu_advice(GRADESCOPE, run, config)


def test_gradescope_reference_end_to_end(gradescope_root):
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    nested = write_submission(root / "submission" / "my-project")   # students often upload a folder
    (nested / "notes.txt").write_text("ignored")
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "finalize: results rendered from the grader's report\n" in r.stdout
    data = validate(root / "results" / "results.json", "gradescope_results.schema.json")
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    assert len(by_id) == 9 and data["extra_data"]["complete"] is True
    assert all(by_id[i]["status"] == "passed" for i in by_id if i not in ("cnn.accuracy", "sr.psnr"))
    assert [f["name"] for f in data["extra_data"]["submission"]["files"]] == ["model.py", "pixel_shuffle.py"]
    # the package grades with `quick` as the official grade: nothing may call it an estimate of another one
    assert "estimate" not in json.dumps(data).lower() and "official grade uses" not in json.dumps(data)


def test_gradescope_fallback_when_grading_fails(gradescope_root, tmp_path):
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    write_submission(root / "submission")
    results = root / "results" / "results.json"
    # the grader refuses to run (no data): the Python fallback writes score 0 and the error
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root), "GRADER_DATA_DIR": str(tmp_path)})
    assert r.returncode == 0
    data = validate(results, "gradescope_results.schema.json")
    assert data["score"] == 0 and data["extra_data"]["error"] == "the grader exited with status 2 without writing a report"
    assert "data files" in data["extra_data"]["log_tail"] and "contact the course staff" in data["output"]
    # no usable Python at all: the static fallback is still valid
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": "/bin/false"})
    assert r.returncode == 0 and "wrote the static fallback result" in r.stdout
    data = validate(results, "gradescope_results.schema.json")
    assert data["score"] == 0 and data["tests"][0]["max_score"] == 100


def test_gradescope_timeout_renders_partial_report(gradescope_root):
    """The outer timeout (SIGTERM) still yields per-item results, rendered from the grader's partial report."""
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    # Net(r) never returns, so the 25 s outer timeout fires however fast this machine grades the rest
    hanging = (REFERENCE / "model.py").read_text().replace(
        "        self.relu = nn.ReLU()", "        while True:\n            pass\n        self.relu = nn.ReLU()")
    assert "while True" in hanging
    write_submission(root / "submission", model=hanging)
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root), "GRADER_TIMEOUT": "25"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "finalize: results rendered from the grader's report (the grader exited with status 124)" in r.stdout
    data = validate(root / "results" / "results.json", "gradescope_results.schema.json")
    assert data["extra_data"]["complete"] is False and len(data["tests"]) == 9
    by_tag = {t["tags"][0]: t for t in data["tests"]}
    # the hanging Net's items were cut by the outer timeout; every other item was graded (at 20 training
    # steps cnn.accuracy may well fail) or, on a slow machine, cut the same way
    assert all("SIGTERM" in by_tag[i]["output"] for i in ("sr.interface", "sr.psnr")), by_tag["sr.interface"]
    assert all(t["extra_data"]["status"] != "error" or "SIGTERM" in t["output"] for t in data["tests"])
    assert "Grading did not complete" in data["output"]


def test_prairielearn_question_and_end_to_end(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    out = tmp_path / "pl"
    r = grader("package", "prairielearn", "--out", str(out), "--config", str(rubric), "--image", "reg/grader:1")
    assert r.returncode == 0, r.stderr
    info = json.loads((out / "question" / "info.json").read_text())
    assert info["gradingMethod"] == "External" and info["type"] == "v3" and info["uuid"]
    options = info["externalGradingOptions"]
    assert options == {"image": "reg/grader:1", "entrypoint": "/grader/run.sh", "timeout": 600}   # no deprecated `enabled`
    assert str(uuid.UUID(info["uuid"])) == info["uuid"]
    again = json.loads(json.dumps(question_info("reg/grader:1", 600)))
    assert again["uuid"] != info["uuid"]   # a fresh uuid per generated question: two copies sync side by side
    assert "TIMEOUT:-540}" in (out / "grader-image" / "grade.sh").read_text()   # stops itself 60 s before
    html = (out / "question" / "question.html").read_text()
    assert '<pl-file-upload file-names="model.py, pixel_shuffle.py">' in html and "<pl-external-grader-results>" in html
    image = out / "grader-image"
    assert os.access(image / "run.sh", os.X_OK) and "FROM python:3.10-slim" in (image / "Dockerfile").read_text()
    grade_root = tmp_path / "grade"
    # a model.py that does not compile: fast, and exercises the error path; pixel shuffle still earns points
    write_submission(grade_root / "student", model="def oops(:\n")
    r = run_script(image / "run.sh", {"GRADE_ROOT": str(grade_root)})
    assert r.returncode == 0, r.stdout + r.stderr
    results = grade_root / "results" / "results.json"
    data = validate(results, "prairielearn_results.schema.json")
    assert data["gradable"] is True and data["score"] == 0.3
    assert all("model.py has a syntax error at line 1" in t["output"] for t in data["tests"][5:])
    # harness failure: not gradable (the student is not charged an attempt), still schema-valid
    run_script(image / "run.sh", {"GRADE_ROOT": str(grade_root), "GRADER_DATA_DIR": str(tmp_path / "nodata")})
    data = validate(results, "prairielearn_results.schema.json")
    assert data["gradable"] is False and data["score"] == 0
    run_script(image / "run.sh", {"GRADE_ROOT": str(grade_root), "GRADER_PYTHON": "/bin/false"})
    assert validate(results, "prairielearn_results.schema.json")["gradable"] is False


def test_prairielearn_under_its_limits_with_a_flood_of_output(tmp_path):
    """PrairieLearn's container (0.9 CPU, 2 GiB): code printing control characters and ~40 MB of text, then
    raising everywhere, still gets a results.json under the 1 MiB limit, well within the job's timeout."""
    reason = unavailable()
    require_system(reason is None, f"PrairieLearn's container limits ({reason})", "sudo -E python -m pytest tests")
    rubric = fast_rubric(tmp_path / "fast.yaml")
    out = tmp_path / "pl"
    assert grader("package", "prairielearn", "--out", str(out), "--config", str(rubric)).returncode == 0
    grade_root = tmp_path / "grade"
    write_submission(grade_root / "student", model=HOSTILE_MODEL, pixel_shuffle=HOSTILE_SHUFFLE)
    env = {**os.environ, "GRADE_ROOT": str(grade_root), "GRADER_PYTHON": sys.executable, "GRADER_SANDBOX": "process",
           "GRADER_CACHE_DIR": str(PATHS.cache)}
    env.pop("PYTHONPATH", None)
    usage = run_limited(["bash", str(out / "grader-image" / "run.sh")], memory_mb=2048, cpus=0.9, timeout=600, env=env)
    timeout = json.loads((out / "question" / "info.json").read_text())["externalGradingOptions"]["timeout"]
    assert usage.returncode == 0 and not usage.oom_killed and usage.wall_s < timeout, usage.stdout[-2000:]
    results = grade_root / "results" / "results.json"
    assert len(results.read_bytes()) <= PL_MAX_BYTES
    data = validate(results, "prairielearn_results.schema.json")
    assert data["score"] == 0 and all(len(t["output"]) < 7000 for t in data["tests"])
    assert "characters cut here" in data["tests"][5]["output"]
    assert "\\u0000" not in results.read_text() and "\\u001b" not in results.read_text()   # escaped, never raw


def test_prairielearn_grades_the_reference_at_its_cpu_share_with_room_to_spare(tmp_path):
    """The committed rubric, the reference, PrairieLearn's container (0.9 CPU, 2 GiB): full marks, in at most
    half of the job's 600 s cap (limits count CPU seconds, so the share only stretches the wall time)."""
    require_system(unavailable() is None, "cgroups with CPU and memory limits (root)",
                   "run as root on a machine whose cgroups can be written (CI does)")
    out = tmp_path / "pl"
    assert grader("package", "prairielearn", "--out", str(out)).returncode == 0
    grade_root = tmp_path / "grade"
    write_submission(grade_root / "student")
    env = {**os.environ, "GRADE_ROOT": str(grade_root), "GRADER_PYTHON": sys.executable, "GRADER_SANDBOX": "process",
           "GRADER_CACHE_DIR": str(PATHS.cache)}
    env.pop("PYTHONPATH", None)
    usage = run_limited(["bash", str(out / "grader-image" / "run.sh")], memory_mb=2048, cpus=0.9, timeout=600, env=env)
    print(f"PrairieLearn, reference, 0.9 CPU: wall {usage.wall_s:.0f} s, CPU {usage.cpu_s:.0f} s, "
          f"peak {usage.peak_mb:.0f} MB")
    assert usage.returncode == 0 and not usage.oom_killed, usage.stdout[-2000:]
    assert usage.wall_s <= 600 / 2, f"{usage.wall_s:.0f} s leaves less than a 2x margin under PrairieLearn's 600 s"
    data = validate(grade_root / "results" / "results.json", "prairielearn_results.schema.json")
    assert data["gradable"] is True and data["score"] == 1.0, [t["output"][:200] for t in data["tests"]]
    assert "estimate" not in json.dumps(data).lower()   # quick is the official grade here


# ------------------------------------------------------------------ GitHub Classroom
@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gh")
    rubric = fast_rubric(tmp / "fast.yaml")
    out = tmp / "template"
    r = grader("package", "github", "--out", str(out), "--config", str(rubric), "--grader-repo", "course/cnn-template",
               "--grader-ref", "v2")
    assert r.returncode == 0, r.stderr
    workflow = yaml.safe_load((out / ".github" / "workflows" / "classroom.yml").read_text())
    return out, workflow


def step(workflow: dict, name: str) -> dict:
    (job,) = workflow["jobs"].values()
    return next(s for s in job["steps"] if s.get("name") == name)


def test_workflow_is_the_one_classroom_reads(classroom):
    out, wf = classroom
    assert wf["name"] == "Autograding Tests"
    (job,) = wf["jobs"].values()
    assert job["name"] == "Autograding Tests"   # the check run the reporter looks up by name
    assert wf["env"]["GRADER_REPOSITORY"] == "course/cnn-template" and wf["env"]["GRADER_REF"] == "v2"
    grader_checkout = step(wf, "Check out the grader")["with"]
    assert grader_checkout["repository"] == "${{ env.GRADER_REPOSITORY }}"
    assert grader_checkout["token"] == "${{ secrets.GRADER_TOKEN || github.token }}"   # a private grader
    assert "GRADER_TOKEN" in (out / "CLASSROOM.md").read_text()
    assert step(wf, "Grade")["if"] == "always()" and step(wf, "Report")["if"] == "always()"
    reporter = step(wf, "Report points to GitHub Classroom")
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter")
    assert reporter["with"]["runners"] == "grade" and reporter["env"]["GRADE_RESULTS"] == "${{ steps.report.outputs.result }}"
    assert "cannot protect" in (out / "CLASSROOM.md").read_text()


def run_step(workflow: dict, name: str, workspace: Path, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    """A workflow step's `run` script as a runner runs it (bash -eo pipefail), `python` being this Python."""
    bin_dir = workspace / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():   # a wrapper, not a symlink: a venv's Python finds its packages
        (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        (bin_dir / "python").chmod(0o755)
    script = workspace / f"{name}.sh"
    script.write_text(step(workflow, name)["run"])
    full = {**os.environ, **workflow["env"], "PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(workspace / "tmp"), "GITHUB_OUTPUT": str(workspace / "output"),
            "GITHUB_STEP_SUMMARY": str(workspace / "summary"), "GRADER_CACHE_DIR": str(PATHS.cache), **env}
    full.pop("PYTHONPATH", None)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def runner(classroom, tmp_path):
    """A runner workspace: the student's repository (the template with the reference's files in student/) and
    the grader checked out from the template repository."""
    out, _ = classroom
    shutil.copytree(out, tmp_path / "submission")
    write_submission(tmp_path / "submission" / "student")
    shutil.copytree(out, tmp_path / "grader-src")
    (tmp_path / "tmp").mkdir()
    return tmp_path


def reporter_total(workspace: Path) -> str:
    """What GitHub Classroom's reporter prints, from the value the workflow passes it."""
    value = (workspace / "output").read_text().removeprefix("result=").strip()
    results = json.loads(base64.b64decode(value))
    total = 0.0
    for test in results["tests"]:
        total += test["score"]
    return f"Points {total:g}/{results['max_score']:g}"


def test_workflow_steps_grade_and_report_points(classroom, runner):
    _, wf = classroom
    env = {"GRADER_DATA_DIR": os.environ["GRADER_DATA_DIR"]}
    assert run_step(wf, "Refuse a grader source that holds the solution", runner, {}, runner).returncode == 0
    grade = run_step(wf, "Grade", runner, env, runner / "grader-src")
    assert grade.returncode == 0, grade.stderr
    report = run_step(wf, "Report", runner, {}, runner)
    assert report.returncode == 0, report.stderr
    first = next(line for line in report.stdout.splitlines() if line.startswith("Points "))
    summary = (runner / "summary").read_text()
    assert summary.startswith(first + "\n") and first.endswith("/100") and first != "Points 0/100"
    assert reporter_total(runner) == first
    assert json.loads((runner / "tmp" / "report.json").read_text())["complete"] is True


def test_failed_grading_still_reports_points(classroom, runner):
    _, wf = classroom
    grade = run_step(wf, "Grade", runner, {"GRADER_DATA_DIR": str(runner / "no-data")}, runner / "grader-src")
    assert grade.returncode == 0 and (runner / "tmp" / "grader-status").read_text().strip() == "2"
    report = run_step(wf, "Report", runner, {}, runner)
    assert report.returncode == 0 and "\nPoints 0/100\n" in report.stdout
    assert reporter_total(runner) == "Points 0/100"


def test_without_the_grader_the_workflow_reports_0_with_the_reason(classroom, runner):
    # a private grader repository without GRADER_TOKEN: the checkout fails, and the reporter still gets points
    _, wf = classroom
    shutil.rmtree(runner / "grader-src")
    report = run_step(wf, "Report", runner, {}, runner)
    assert report.returncode == 0, report.stderr
    assert "::error::the grader could not be checked out from course/cnn-template" in report.stdout
    assert reporter_total(runner) == "Points 0/100"
    value = (runner / "output").read_text().removeprefix("result=").strip()
    test = json.loads(base64.b64decode(value))["tests"][0]
    assert test["status"] == "error" and "GRADER_TOKEN" in test["message"] and test["line_no"] == 1
    assert (runner / "summary").read_text().startswith("Points 0/100\n")


def test_workflow_refuses_a_grader_source_with_the_solution(classroom, runner):
    _, wf = classroom
    shutil.copytree(REFERENCE, runner / "grader-src" / "reference")
    r = run_step(wf, "Refuse a grader source that holds the solution", runner, {}, runner)
    assert r.returncode == 1 and "::error::course/cnn-template holds reference/" in r.stdout


def test_wheel_ships_the_templates(tmp_path):
    src = tmp_path / "src"   # a copy: building in the checkout would leave build/ and *.egg-info there
    shutil.copytree(REPO_ROOT / "grader", src / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(REPO_ROOT).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()
               and "__pycache__" not in p.parts}
    assert shipped and shipped <= names
