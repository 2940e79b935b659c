"""`python -m grader package handout`: the students' repository holds no solution, and `pytest grader` works
in it on the stubs."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.config import REPO_ROOT, load_config

SOLUTION_FILES = sorted((REPO_ROOT / "reference").rglob("*.py"))


def code_snippets(path: Path) -> set[str]:
    """What in a solution file is the solution: each statement (20 characters or more) inside its functions
    and every string longer than 7 characters outside docstrings, whitespace-normalised; minus what the student stub of the same
    name also has (signatures, `super().__init__()`), which is the exercise, not its answer."""
    def snippets(source: str) -> set[str]:
        tree, found = ast.parse(source), set()
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for stmt in node.body:
                    code = " ".join(ast.get_source_segment(source, stmt).split())
                    if id(getattr(stmt, "value", None)) not in docstrings and len(code) >= 20:
                        found.add(code)
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 7
                    and id(node) not in docstrings):
                found.add(" ".join(node.value.split()))
        return found
    stub = REPO_ROOT / "student" / path.name
    return snippets(path.read_text()) - (snippets(stub.read_text()) if stub.is_file() else set())


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout") / "cnn-practical"
    r = subprocess.run([sys.executable, "-m", "grader", "package", "handout", "--out", str(out)], cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def test_handout_lists_only_what_students_need(handout):
    files = {p.relative_to(handout).as_posix() for p in handout.rglob("*") if p.is_file()}
    tops = {f.split("/")[0] for f in files}
    assert tops == {"student", "grader", "datasets", "grading.yaml", "pyproject.toml", "README.md", ".gitignore",
                    ".grader-handout", "practical.ipynb"}
    assert {"student/model.py", "student/pixel_shuffle.py", "grader/conftest.py", "grader/test_submission.py",
            "datasets/mnist/SHA256SUMS", "datasets/bsds300/SHA256SUMS"} <= files
    assert not {"grader/package.py", "grader/bundle.py", "grader/platforms.py", "grader/handout.py",
                "grader/calibrate.py"} & files
    for name in ("model.py", "pixel_shuffle.py"):
        assert (handout / "student" / name).read_bytes() == (REPO_ROOT / "student" / name).read_bytes()


def test_handout_contains_no_solution_code(handout):
    snippets = {s: path.name for path in SOLUTION_FILES for s in code_snippets(path)}
    assert len(snippets) > 25 and any("rearrange(" in s for s in snippets)   # the solution really is in the list
    leaks = []
    for path in handout.rglob("*"):
        if path.is_file():
            text = " ".join(path.read_text(errors="replace").split())
            leaks += [f"{path.relative_to(handout)} holds {snippets[s]}'s `{s}`" for s in snippets if s in text]
    assert not leaks, "\n".join(leaks)


def test_rubric_keeps_thresholds_not_calibration_evidence(handout):
    public = yaml.safe_load((handout / "grading.yaml").read_text())["calibration"]
    private = yaml.safe_load((REPO_ROOT / "grading.yaml").read_text())["calibration"]
    for profile in ("quick", "full"):
        ours = load_config(handout / "grading.yaml", profile)
        theirs = load_config(REPO_ROOT / "grading.yaml", profile)
        assert [i.threshold for i in ours.items] == [i.threshold for i in theirs.items]
        for item, values in public[profile].items():
            assert "reference_runs" in private[profile][item] and not {"reference_runs", "reference_mean",
                                                                       "reference_std", "note"} & set(values)
    assert (handout / "grading.yaml").read_text().startswith("# Rubric")   # the hand-written part and comments


def test_pytest_grader_runs_in_the_handout(handout, tmp_path):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "grader", "-q", "-p", "no:cacheprovider",
                        f"--basetemp={tmp_path / 'bt'}", "--profile", "quick"], cwd=handout, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]   # the stubs fail every item
    assert "9 failed" in r.stdout and "Score: 0/100" in r.stdout
    assert f"JSON report: {handout / 'grading-report.json'}" in r.stdout   # the handout's own grader ran
    assert "NotImplementedError" in r.stdout


def test_gitignore_covers_what_the_readme_steps_make(handout):
    ignored = (handout / ".gitignore").read_text().splitlines()
    for made in ("*.egg-info/", ".venv/", "grading-report.json", "grading-report.html", "datasets/mnist/raw/"):
        assert made in ignored
    repo = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert {"*.egg-info/", ".venv/", "/grading-report.json", "/grading-report.html"} <= set(repo)


def test_readme_tells_students_what_to_run(handout):
    readme = (handout / "README.md").read_text()
    for needed in ("student/model.py", "pytest grader", "python -m grader data download", "GRADER_DATA_DIR",
                   "`cnn.accuracy`", "`sr.psnr`", "`pixel_shuffle.einops`", "python3 -m venv .venv",
                   "--index-url https://download.pytorch.org/whl/cpu"):
        assert needed in readme
    # the repository's README starts the same way: a venv (PEP 668), and where to get the CPU-only torch
    quick_start = (REPO_ROOT / "README.md").read_text().split("## Quick start")[1].split("\n## ")[0]
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install -e ." in quick_start
    assert "--index-url https://download.pytorch.org/whl/cpu" in quick_start
    assert "@" + "MAX_SCORE@" not in readme and "reference" not in readme
