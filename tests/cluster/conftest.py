"""The class every cluster test grades, and its grades under `--executor local` to compare with.

Six submissions: two copies of the reference, a syntax error, a crash (os._exit in CNN.forward), a hang
(pixel_unshuffle sleeps: it costs that item's 20 s timeout and no CPU) and a memory blow-up (CNN.forward
allocates GBs against a 1200 MB cap). The rubric is the fast one (20 MNIST steps, 3 SR steps, 90 s per
item: generous, since a loaded 2-core machine must not turn the reference's training into a timeout) on
the red-team data slices, with thresholds moved so the trained items earn partial credit: the scores then
depend on every digit of the training, and equal scores across executors mean equal grades.
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REFERENCE, fast_rubric, require_system, write_submission  # noqa: F401 (re-exported)
from grader.config import ITEM_IDS, REPO_ROOT
from test_batch import CRASH_MODEL, REF_MODEL

SUBSET_SITE = Path(__file__).parent / "subset_site"
REF_SHUFFLE = (REFERENCE / "pixel_shuffle.py").read_text()
HANG_SHUFFLE = REF_SHUFFLE.replace("def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:\n",
                                   "def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:\n"
                                   "    import time\n    time.sleep(3600)\n", 1)
MEMORY_MODEL = REF_MODEL.replace("    def forward(self, x", "    def forward(self, x, *_a):\n        import torch\n"
                                 "        hog = [torch.ones(2**27) for _ in range(100)]\n\n"
                                 "    def _was_forward(self, x", 1)
assert HANG_SHUFFLE != REF_SHUFFLE and MEMORY_MODEL != REF_MODEL
STUDENTS = {"a_reference": {}, "b_syntax": {"model": "def oops(:\n"}, "c_crash": {"model": CRASH_MODEL},
            "d_hang": {"pixel_shuffle": HANG_SHUFFLE}, "e_memory": {"model": MEMORY_MODEL}, "f_reference": {}}


def importable(module: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def cluster_env(**extra: str) -> dict[str, str]:
    """The environment of every batch, node and Ray worker in these tests: the data slices switched on. Ray's
    token authentication is off explicitly: `ray start` turns it on by itself when ~/.ray/auth_token exists
    (any earlier local `ray.init()` writes one), and then the driver could not connect to this private cluster."""
    path = os.pathsep.join(filter(None, [str(SUBSET_SITE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "GRADER_TEST_DATA_SUBSET": "1", "RAY_AUTH_MODE": "disabled", **extra}


def batch(subs: Path, out: Path, rubric: Path, *extra: str, env: dict | None = None, wait: bool = True,
          timeout: float = 600, check: bool = True):
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out-dir", str(out), "--profile", "quick",
           "--config", str(rubric), "--sandbox", "process", "--margin", "60", *extra]
    if not wait:
        log = open(out.parent / f"{out.name}.log", "w")
        return subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env or cluster_env())
    r = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env or cluster_env())
    assert r.returncode == 0 or not check, r.stdout + r.stderr
    return r


def scores(out: Path) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO((out / "grades.csv").read_text()))
    return {row["student"]: {k: row[k] for k in (*ITEM_IDS, "total", "status", "error")} for row in rows}


def differences(out: Path, expected: dict[str, dict[str, str]]) -> str:
    """Where the scores in `out` differ from `expected`, with what the report said about each such item and
    how much time and memory its calls took (a failure in CI must say why, not only that)."""
    lines = []
    for student, row in scores(out).items():
        wrong = [i for i in ITEM_IDS if row[i] != expected.get(student, {}).get(i)]
        if not wrong:
            continue
        report = json.loads((out / student / "report.json").read_text())
        said = {t["id"]: t for t in report["tests"]}
        for item in wrong:
            t = said[item]
            lines.append(f"{student} {item}: {row[item]} (expected {expected[student][item]}), {t['status']}, "
                         f"cpu {t.get('cpu_s')}/{t.get('cpu_limit_s')} s: {t['output'][:600]}")
        lines.append(f"{student} calls: {report.get('calls')}")
    return "\n".join(lines)


def manifest(out: Path) -> dict:
    try:
        return json.loads((out / "manifest.json").read_text())["students"]
    except (OSError, ValueError, KeyError):
        return {}


def task_starts(out: Path, student: str) -> list[str]:
    log = out / student / "task.log"
    return log.read_text().splitlines() if log.is_file() else []


def wait_for(condition, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert proc is None or proc.poll() is None, f"the driver exited before {what}"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def grading_mid_run(out: Path, student: str) -> dict | None:
    """task.json of `student` once its grader is past start-up (its log shows item progress)."""
    try:
        status = json.loads((out / student / "task.json").read_text())
        started = "elapsed" in (out / student / "grade.log").read_text()
    except (OSError, ValueError):
        return None
    return status if status.get("state") == "running" and started else None


@pytest.fixture(scope="session")
def cluster_class(tmp_path_factory) -> tuple[Path, Path]:
    """(submissions folder, rubric) shared by the local, Slurm and Ray runs."""
    root = tmp_path_factory.mktemp("class")
    rubric = fast_rubric(root / "fast.yaml", mnist_steps=20, sr_steps=3, timeout_s=90)
    raw = yaml.safe_load(rubric.read_text())
    for item in raw["items"]:   # CPU seconds: generous for slow CPUs, except where the hang spends them all
        item["timeout_s"] = 6 if item["id"] == "pixel_unshuffle.values" else item["timeout_s"]
    raw["settings"]["memory_limit_mb"] = 1200
    raw["calibration"]["quick"]["cnn.accuracy"].update(zero_at=0.5, full_at=0.95)
    raw["calibration"]["quick"]["sr.psnr"].update(zero_at=6.0, full_at=30.0)
    rubric.write_text(yaml.safe_dump(raw, sort_keys=False))
    for name, files in STUDENTS.items():
        write_submission(root / "subs" / name, files.get("model"), files.get("pixel_shuffle"))
    assert (REFERENCE / "model.py").read_text() == (root / "subs" / "a_reference" / "model.py").read_text()
    return root / "subs", rubric


@pytest.fixture(scope="session")
def local_scores(cluster_class, tmp_path_factory) -> dict:
    subs, rubric = cluster_class
    out = tmp_path_factory.mktemp("local") / "out"
    batch(subs, out, rubric, "--executor", "local", "--jobs", "3")
    graded = scores(out)
    assert set(graded) == set(STUDENTS)
    for student, row in graded.items():   # every student graded to the end; failures are in the items
        assert row["status"] == "complete", (student, row)
    said = {t["id"]: t["output"] for t in json.loads((out / "a_reference" / "report.json").read_text())["tests"]}
    assert 0 < float(graded["a_reference"]["cnn.accuracy"]) < 30, \
        f"the trained items should earn partial credit; cnn.accuracy said: {said['cnn.accuracy']}"
    return graded
