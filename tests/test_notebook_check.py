"""check() inside a real Jupyter kernel (nbclient + ipykernel): the handout's starter notebook run as a student
runs it. The kernel finds its notebook through JPY_SESSION_NAME (what jupyter_server sets) and grades with
the fast rubric (GRADER_CONFIG) for the stubs and the committed one for the reference; Colab's route cannot
run here (no Colab frontend)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REFERENCE, fast_rubric
from grader.config import DEFAULT_CONFIG
from grader.notebook.starter import starter_notebook

PROFILE_NOTE = "profile quick: no GPU on this kernel"


def run_in_kernel(nb, path: Path, rubric: Path) -> nbformat.NotebookNode:
    nbformat.write(nb, str(path))
    env = {"JPY_SESSION_NAME": str(path), "GRADER_CONFIG": str(rubric), "CUDA_VISIBLE_DEVICES": ""}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)   # the kernel is a child of this process: it inherits these
    try:
        client = NotebookClient(nb, timeout=900, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return nb


def shown(cell) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") + o.get("text", "") for o in cell.outputs)


def reference_definitions(file: str, names: tuple[str, ...]) -> str:
    source = (REFERENCE / file).read_text()
    lines = source.split("\n")
    return "\n\n\n".join("\n".join(lines[n.lineno - 1:n.end_lineno]) for n in ast.parse(source).body
                         if getattr(n, "name", None) in names) + "\n"


def test_starter_notebook_checks_show_the_stub_failures(tmp_path):
    nb = run_in_kernel(starter_notebook(), tmp_path / "practical.ipynb", fast_rubric(tmp_path / "fast.yaml"))
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert [c.source for c in checks] == ['check("shuffle")', 'check("cnn")', 'check("sr")', "check()"]
    for cell in checks:
        html = shown(cell)
        assert "<iframe srcdoc=" in html and PROFILE_NOTE in html, (cell.source, html[:500])
        assert "<b>0 / " in html, (cell.source, html[:300])
        assert "NotImplementedError" in html, (cell.source, html[:2000])


def test_reference_in_the_starter_notebook_checks_like_grade(tmp_path):
    """The committed rubric's quick profile, as a student's kernel runs it: check() gives full marks, and
    `grade practical.ipynb` the identical report (scores, statuses, metrics)."""
    rubric = DEFAULT_CONFIG
    nb = starter_notebook()
    stubs = [c for c in nb.cells if c.cell_type == "code" and "NotImplementedError" in c.source]
    replacements = {"pixel_shuffle": reference_definitions("pixel_shuffle.py", ("pixel_shuffle", "pixel_unshuffle",
                                                                                  "PixelShuffle")),
                    "class CNN": reference_definitions("model.py", ("CNN",)),
                    "class Net": reference_definitions("model.py", ("Net",))}
    for cell in stubs:
        key = next(k for k in replacements if k in cell.source)
        cell.source = replacements.pop(key)
    assert not replacements
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source.startswith("check(\""))]
    nb.cells[-1].source = 'check(out="check.json")'
    path = tmp_path / "practical.ipynb"
    nb = run_in_kernel(nb, path, rubric)
    assert PROFILE_NOTE in shown(nb.cells[-1])
    checked = json.loads((tmp_path / "check.json").read_text())
    out = tmp_path / "grade.json"
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--config", str(rubric), "--profile",
                          "quick", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    graded = json.loads(out.read_text())
    assert checked["score"] == graded["score"] and checked["profile"] == graded["profile"] == "quick"

    def verdicts(report):
        return {t["id"]: (t["score"], t["status"], {k: v for k, v in t["metrics"].items() if k != "duration_s"})
                for t in report["tests"]}
    assert verdicts(checked) == verdicts(graded)
    assert checked["score"] == checked["max_score"] == 100, verdicts(checked)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
