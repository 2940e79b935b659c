"""The Gradescope package on the Python of Gradescope's default image (Ubuntu 22.04: python3 is 3.10), in its
/autograder layout: setup.sh builds the environment with Python 3.10 from the pinned requirements (here from
a local folder of cp310 wheels, as the build has no other network), then run_autograder grades the reference
inside a cgroup with Gradescope's default CPU share (0.5), with the committed rubric: full marks, in at most half
of Gradescope's default 10-minute autograder timeout.

Needs python3.10 and the wheels: GRADER_PY310_WHEELS=DIR, filled once with
    python3.10 -m pip download --only-binary=:all: -d DIR -r requirements-torch.txt -r requirements.txt
(the two files of any autograder.zip; .ci/run does it). The torch wheel there is PyPI's CUDA build (the CPU
wheel index is not reachable here), larger in memory than the CPU wheel the real image gets, so the memory
cap used is 2 GiB; bench/platform_bench.py measures the CPU wheel under Gradescope's 768 MB.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import pytest

from cgroup_limits import run_limited, unavailable
from conftest import require_system, write_submission
from grader.config import REPO_ROOT
from grader.sandbox import SANDBOX_UID



def find_python310() -> str | None:
    """A working python3.10 (PATH first, then pyenv's builds; pyenv's shim on PATH may not run)."""
    candidates = [shutil.which("python3.10"), *map(str, sorted(Path.home().glob(".pyenv/versions/3.10.*/bin/python3.10")))]
    for candidate in filter(None, candidates):
        run = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version_info[:2])"], capture_output=True, text=True)
        if run.stdout.strip() == "(3, 10)":
            return candidate
    return None


PY310 = find_python310()
WHEELS = os.environ.get("GRADER_PY310_WHEELS", "")




AS_SANDBOX = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups"]


def python_for_any_uid(python: str, top: Path) -> str:
    """Gradescope's python3 is /usr/bin/python3.10, which every uid can run. A python3.10 whose files only
    root can reach (pyenv's, under /root) is copied next to the image, its library path made relative."""
    if subprocess.run([*AS_SANDBOX, python, "-c", "pass"], capture_output=True).returncode == 0:
        return python
    require_system(shutil.which("patchelf") is not None, f"patchelf (to relocate a copy of {python}, which uid "
                   f"{SANDBOX_UID} cannot run)", "apt-get install -y patchelf")
    prefix = subprocess.run([python, "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True)
    copy = top / "python3.10"
    shutil.copytree(prefix.stdout.strip(), copy, symlinks=True)
    binary = copy / "bin" / "python3.10"
    subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(binary)], check=True)
    return str(binary)


@pytest.fixture(scope="module")
def autograder():
    require_system(PY310 is not None, "python3.10 (Gradescope's image Python)",
                   "apt-get install -y python3.10 python3.10-venv")
    require_system(bool(WHEELS) and Path(WHEELS).is_dir(), "GRADER_PY310_WHEELS (a folder of cp310 wheels)",
                   "python3.10 -m pip download --only-binary=:all: -d DIR -r requirements-torch.txt -r "
                   "requirements.txt; export GRADER_PY310_WHEELS=DIR")
    reason = unavailable()
    require_system(reason is None, f"Gradescope's container limits ({reason})", "sudo -E python -m pytest tests")
    # like /autograder: under a folder every uid may traverse (the sandbox uid must reach the venv's Python)
    top = Path(tempfile.mkdtemp(prefix="gs310-", dir="/tmp"))
    top.chmod(0o755)
    root = top / "autograder"
    package = subprocess.run([sys.executable, "-m", "grader", "package", "gradescope", "--out", str(top / "a.zip")],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert package.returncode == 0, package.stderr
    with zipfile.ZipFile(top / "a.zip") as zf:
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder", "install.sh"):   # zipfile does not restore modes
        (root / "source" / name).chmod(0o755)
    base = python_for_any_uid(PY310, top)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_SYSTEM_SETUP": "0", "GRADER_BASE_PYTHON": base,
           "GRADER_VENV": str(top / "venv"), "GRADER_PIP_ARGS": f"--no-index --find-links {WHEELS}"}
    for key in ("PYTHONPATH", "GRADER_DATA_DIR", "GRADER_CACHE_DIR", "VIRTUAL_ENV"):
        env.pop(key, None)
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                           timeout=1800)
    assert setup.returncode == 0, setup.stdout[-4000:] + setup.stderr[-4000:]
    yield top, root, setup
    shutil.rmtree(top, ignore_errors=True)


def test_setup_builds_a_python_310_environment_from_the_pins(autograder):
    top, root, setup = autograder
    assert "grading environment ready: Python 3.10." in setup.stdout
    python = top / "venv" / "bin" / "python"
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
    pinned = (root / "source" / "requirements-torch.txt").read_text().split() + \
        (root / "source" / "requirements.txt").read_text().split()
    installed = {line.split("==")[0].lower(): line.split("==")[1].split("+")[0] for line in freeze if "==" in line}
    assert {p.split("==")[0]: installed[p.split("==")[0]] for p in pinned} == dict(p.split("==") for p in pinned)


def test_the_bundle_is_root_only(autograder):
    top, root, _ = autograder
    source = root / "source"
    for path in [source, *source.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, path
    labels = source / "datasets" / "mnist" / "raw" / "t10k-labels-idx1-ubyte.gz"
    assert subprocess.run([*AS_SANDBOX, "cat", str(labels)], capture_output=True).returncode != 0
    assert subprocess.run([*AS_SANDBOX, "cat", str(source / "grading.yaml")], capture_output=True).returncode != 0
    cached = [p for p in (source / "cache").rglob("mnist_test_y.npy")]
    assert cached, "setup.sh decodes the data into the bundle's private cache"
    run = subprocess.run([*AS_SANDBOX, str(top / "venv" / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("2."), run.stderr


def test_run_autograder_grades_with_python_310(autograder):
    top, root, _ = autograder
    write_submission(root / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": str(top / "venv" / "bin" / "python"),
           "GRADER_SANDBOX": "process"}
    for key in ("PYTHONPATH", "GRADER_DATA_DIR", "GRADER_CACHE_DIR"):
        env.pop(key, None)
    usage = run_limited(["bash", str(root / "source" / "run_autograder")], memory_mb=2048, cpus=0.5, timeout=1800,
                        env=env)
    print(f"Python 3.10 grade at 0.5 CPU: wall {usage.wall_s:.0f} s, CPU {usage.cpu_s:.0f} s, "
          f"peak {usage.peak_mb:.0f} MB (RSS {usage.peak_rss_mb:.0f} MB)")
    assert usage.returncode == 0 and not usage.oom_killed, usage.stdout[-3000:]
    assert "finalize: results rendered from the grader's report\n" in usage.stdout
    data = json.loads((root / "results" / "results.json").read_text())
    schema = json.loads((REPO_ROOT / "grader" / "schemas" / "gradescope_results.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["extra_data"]["versions"]["python"].startswith("3.10.") and data["extra_data"]["complete"] is True
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    assert all(t["status"] == "passed" for t in by_id.values()) and data["score"] == 100, by_id
    assert usage.wall_s <= 600 / 2, f"{usage.wall_s:.0f} s leaves less than a 2x margin under Gradescope's 10 minutes"
