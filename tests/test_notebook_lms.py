"""A notebook uploaded to Gradescope: the packaged autograder (fast rubric) picks it out of the upload and
grades it, with the results naming the notebook."""
from __future__ import annotations

import shutil

from notebook_cells import reference_notebook, write
from test_package import gradescope_root, run_script, validate  # noqa: F401  (the fixture, and its helpers)


def test_gradescope_grades_an_uploaded_notebook(gradescope_root):  # noqa: F811
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    write(reference_notebook(), root / "submission" / "my-project" / "Practical 3.ipynb")
    (root / "submission" / "my-project" / "notes.txt").write_text("ignored")
    r = run_script(root / "source" / "run_autograder", {"AUTOGRADER_ROOT": str(root)})
    assert r.returncode == 0, r.stdout + r.stderr
    data = validate(root / "results" / "results.json", "gradescope_results.schema.json")
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    assert len(by_id) == 9 and data["extra_data"]["complete"] is True
    assert all(by_id[i]["status"] == "passed" for i in by_id if i not in ("cnn.accuracy", "sr.psnr")), by_id
    submission = data["extra_data"]["submission"]
    assert submission["notebook"]["name"] == "submission.ipynb"
    assert submission["notebook"]["cells"] == {"model.py": [5], "pixel_shuffle.py": [3, 5]}
