"""The trusted side stays small: the process that decides the grade never imports torch or torchvision.

torch with the CUDA wheel costs ~510 MB per process and torchvision ~160 MB more; everything the trusted
side needs from them (decoded data, the bicubic baseline, torch's pixel shuffle of the check cases) comes
from grader/oracle.py's cache. Here a real grade of the reference runs in a fresh interpreter and reports
what it imported and its own peak RSS.
"""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import REFERENCE, fast_rubric
from grader.config import REPO_ROOT

PROBE = """
import json, re, sys
from grader.config import load_config
from grader.data import Datasets
from grader.orchestrator import grade
from grader.paths import DataPaths
report = grade(sys.argv[1], load_config(sys.argv[2], "quick"), Datasets(DataPaths.from_environment()), sandbox="process")
print(json.dumps({"score": report.score, "statuses": {t.id: t.status for t in report.tests},
                  "imported": sorted(m for m in ("torch", "torchvision") if m in sys.modules),
                  # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent (pytest)
                  "peak_mb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024}))
"""


def test_grading_never_imports_torch_in_the_orchestrator(tmp_path):
    rubric = fast_rubric(tmp_path / "fast.yaml")
    run = subprocess.run([sys.executable, "-c", PROBE, str(REFERENCE), str(rubric)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["imported"] == [], f"the orchestrator imported {result['imported']}"
    # every item was really graded (the SR and MNIST items score partially at these tiny budgets)
    assert all(status in ("passed", "partial", "failed") for status in result["statuses"].values()), result
    assert result["statuses"]["pixel_shuffle.values"] == "passed" and result["statuses"]["sr.interface"] == "passed"
    # `import torch` alone is ~510 MB with the installed wheel: staying well under it shows torch never loaded
    assert result["peak_mb"] < 450, result
