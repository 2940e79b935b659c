"""README, Layout, "Adding a rubric item", followed to the letter in a copy of the repository (issue 17).

The recipe: declare the item in grader/items.py; give it points (and budgets) in grading.yaml; score it in its
group's module under grader/checks/; a trained item then needs `python -m grader calibrate`. "Nothing else":
the pages, formats, gradebook and calibration ask the registry. This test makes exactly those three edits
for a new trained item, `cnn.heldout`, scored from an existing worker call (cnn_train: the MNIST CNN's
accuracy on the held-out images the grader kept back), then calibrates, grades and renders it in every
format and in the student page, each as a subprocess of the copy (cwd and PYTHONPATH in it).

Cost: one calibration seed at the quick budgets (the reference must beat its baselines, so the budgets
cannot be tiny; its grade runs only the trained items) and one grade with tiny budgets."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from grader.config import REPO_ROOT

NEW = "cnn.heldout"
NAME = "CNN accuracy on MNIST images the grader kept back"
DECLARATION = '''    ItemSpec("cnn.heldout", "cnn", "model.py", "cnn_train", metric="accuracy_heldout",
             baseline="linear softmax classifier, same budget", baseline_submission="baseline_linear",
             label="MNIST held-out accuracy", title="MNIST held-out accuracy", model="MNIST CNN"),
'''
SCORING = '''    if "cnn.heldout" in run.results:   # scored from the same training run as cnn.accuracy
        heldout = measured["accuracy_heldout"]
        score_trained(run.results["cnn.heldout"], run.config.item("cnn.heldout").threshold.credit(heldout), reply,
                      f"Accuracy on {len(held_x):,} MNIST images the grader kept back: {heldout:.4f}.",
                      "Train the CNN of the practical: it generalises to images it never saw.", **measured)
'''


def edit(path: Path, anchor: str, new: str, after: bool = True) -> None:
    text = path.read_text()
    assert text.count(anchor) == 1, f"{path}: the recipe's anchor {anchor!r} is gone"
    path.write_text(text.replace(anchor, anchor + new if after else new + anchor))


def follow_the_recipe(repo: Path) -> None:
    # 1. declare it in grader/items.py
    edit(repo / "grader" / "items.py", ")\nSPECS = {", DECLARATION, after=False)
    # 2. give it points (and budgets) in grading.yaml: it trains with cnn.accuracy's run, so the same budget
    rubric = repo / "grading.yaml"
    raw = yaml.safe_load(rubric.read_text())
    accuracy = next(i for i in raw["items"] if i["id"] == "cnn.accuracy")
    raw["items"].insert(raw["items"].index(accuracy) + 1, {**accuracy, "id": NEW, "name": NAME, "points": 10})
    rubric.write_text(yaml.safe_dump(raw, sort_keys=False))
    # 3. score it in its group's module
    edit(repo / "grader" / "checks" / "cnn.py", "    judge(run, result, item, reply, measured, len(held_x))\n",
         SCORING)


def tiny_budgets(rubric: Path) -> None:
    raw = yaml.safe_load(rubric.read_text())
    for item in raw["items"]:
        if "train" in item:
            item["train"]["steps"] = {"quick": 20 if item["id"].startswith("cnn") else 5, "full": 20}
    rubric.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_the_readme_recipe_adds_a_trained_item_end_to_end(tmp_path):
    readme = (REPO_ROOT / "README.md").read_text()
    recipe = readme[readme.index("**Adding a rubric item**"):].split("\n\n")[0]
    for step in ("`grader/items.py`", "`grading.yaml`", "`grader/checks/`", "python -m grader calibrate"):
        assert step in recipe   # the recipe this test follows is the one the README gives
    repo = tmp_path / "repo"
    for folder in ("grader", "reference"):
        shutil.copytree(REPO_ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "grading.yaml", repo / "grading.yaml")
    for manifest in REPO_ROOT.glob("datasets/*/SHA256SUMS"):   # the committed checksums (data: GRADER_DATA_DIR)
        (repo / manifest.relative_to(REPO_ROOT)).parent.mkdir(parents=True)
        shutil.copy(manifest, repo / manifest.relative_to(REPO_ROOT))
    follow_the_recipe(repo)
    env = {**os.environ, "PYTHONPATH": str(repo), "GRADER_CONFIG": str(repo / "grading.yaml")}

    def grader(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        r = subprocess.run([sys.executable, "-m", "grader", *args], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=timeout)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return r

    # grading without thresholds is refused with the command to run: the recipe's last step
    refused = subprocess.run([sys.executable, "-m", "grader", "grade", "reference", "--profile", "quick"], cwd=repo,
                             env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and f"calibration.quick.{NEW}" in refused.stderr
    assert "python -m grader calibrate" in refused.stderr

    calibration = grader("calibrate", "--profile", "quick", "--seeds", "1")
    assert NEW in calibration.stdout
    measured = yaml.safe_load((repo / "grading.yaml").read_text())["calibration"]["quick"]
    assert set(measured) == {"cnn.accuracy", NEW, "sr.psnr"}
    assert measured[NEW]["baseline"] == "linear softmax classifier, same budget"
    assert 0.5 < measured[NEW]["zero_at"] < measured[NEW]["full_at"] <= 1   # the linear model, then the CNN

    tiny_budgets(repo / "grading.yaml")
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    grader("grade", "reference", "--profile", "quick", "--out", str(report), "--html", str(page))
    graded = {t["id"]: t for t in json.loads(report.read_text())["tests"]}
    assert list(graded)[list(graded).index("cnn.accuracy") + 1] == NEW
    item = graded[NEW]
    assert item["status"] in ("passed", "partial", "failed") and item["max_score"] == 10, item
    assert "MNIST images the grader kept back" in item["output"]
    assert 0.5 < item["metrics"]["accuracy_heldout"] <= 1
    shown = page.read_text()   # the item, its text and its metric's chart against the calibrated thresholds
    assert NAME in shown and "kept back: " in shown and f"{NEW}: accuracy_heldout against the thresholds" in shown

    # every format, rendered by the copy's own code from that report
    render = ("import json, sys; from grader.lms import FORMATS, render; from grader.result import read_report; "
              "r = read_report(sys.argv[1]); print(json.dumps({f: render(r, f, leaderboard=True) for f in FORMATS}))")
    rendered = json.loads(subprocess.run([sys.executable, "-c", render, str(report)], cwd=repo, env=env,
                                         capture_output=True, text=True, check=True, timeout=60).stdout)
    assert len(rendered) >= 8
    assert rendered["csv"].endswith(rendered.pop("csv-row"))   # the row under the header that names the item
    for fmt, text in rendered.items():
        shown = base64.b64decode(text).decode() if fmt == "github-result" else text
        assert NEW in shown or NAME in shown, fmt
    board = json.loads(rendered["gradescope"])["leaderboard"]
    assert any(entry["name"] == "MNIST held-out accuracy" for entry in board)
