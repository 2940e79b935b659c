"""Notebooks graded for real (fast rubric, `process` sandbox): the reference pasted into a notebook grades
exactly like the reference files, and what goes wrong in a notebook is said in its cells' terms."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import DATA, REFERENCE, by_id, fast_rubric
from notebook_cells import REF_MODEL, REF_SHUFFLE, SETUP, TRAIN, notebook, reference_notebook, write
from grader.config import load_config
from grader.notebook.submission import grade_submission
from grader.orchestrator import grade


def test_reference_notebook_grades_like_the_reference_files(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    config = load_config(rubric, "quick")
    from_files = grade(REFERENCE, config, DATA, sandbox="process")
    path = write(reference_notebook(), tmp_path / "practical.ipynb")
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--config", str(rubric), "--profile",
                          "quick", "--sandbox", "process", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["score"] == from_files.score
    for item in report["tests"]:
        expected = by_id(from_files)[item["id"]]
        assert (item["id"], item["score"], item["status"]) == (expected.id, expected.score, expected.status)
        assert {k: v for k, v in item["metrics"].items() if k != "duration_s"} == \
            {k: v for k, v in expected.metrics.items() if k != "duration_s"}, item["id"]
    assert report["submission"]["path"] == str(path)
    assert report["submission"]["notebook"]["cells"] == {"model.py": [5], "pixel_shuffle.py": [3, 5]}


def test_what_goes_wrong_in_a_notebook_points_into_its_cells(tmp_path):
    broken = REF_SHUFFLE.replace('    r = upscale_factor\n', '    r = upscale_factor\n    raise ValueError("not yet")\n')
    nb = notebook(SETUP, broken, REF_MODEL.replace("class CNN", "class Cnn"), TRAIN)
    config = load_config(fast_rubric(tmp_path / "fast.yaml"), "quick")
    report = grade_submission(write(nb, tmp_path / "hw.ipynb"), config, DATA, sandbox="process")
    items = by_id(report)
    raise_line = broken.split("\n").index('    raise ValueError("not yet")') + 1
    shapes = items["pixel_shuffle.shapes"].output
    assert items["pixel_shuffle.shapes"].score == 0
    assert f'File "hw.ipynb", cell 3, line {raise_line}, in pixel_shuffle' in shapes, shapes
    assert "submission/pixel_shuffle.py" not in shapes
    assert items["pixel_unshuffle.values"].status == "passed"
    for item_id in ("cnn.interface", "cnn.accuracy"):
        assert items[item_id].status == "error"
        assert items[item_id].output.startswith("no code cell of your notebook defines `CNN` (at the top level of a "
                                                "cell, with exactly this name). Similar names it does define: "
                                                "`Cnn` (cell 4, line "), items[item_id].output
    # Net is defined and runs, into the broken pixel_shuffle: that, not a missing Net, is what it says
    assert items["sr.interface"].status == "failed" and "not yet" in items["sr.interface"].output
