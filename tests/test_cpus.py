"""What the grader may use is read from the affinity mask and the cgroup's quotas (grader/cpus.py), never
from the host's CPU count: a 0.5-CPU container runs item groups one after another and `batch` gives each
grader its share. Fake cgroup trees (v1 and v2 layouts) in a temporary folder, then the real cgroup."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cgroup_limits import run_limited, unavailable
from conftest import require_system
from grader import cpus
from grader.config import REPO_ROOT


def v2_tree(tmp_path: Path, cpu_max: str, memory_max: str, nested: str = "") -> tuple[Path, Path]:
    """A cgroup2 mount whose own cgroup is /lms/job (nested inside: `nested`), limits set on /lms."""
    root = tmp_path / "cgroup"
    (root / "lms" / "job").mkdir(parents=True)
    (root / "lms" / "cpu.max").write_text(cpu_max + "\n")
    (root / "lms" / "memory.max").write_text(memory_max + "\n")
    (root / "lms" / "job" / "cpu.max").write_text("max 100000\n")
    (root / "lms" / "job" / "memory.max").write_text("max\n")
    self_cgroup = tmp_path / "self_cgroup"
    self_cgroup.write_text("0::/lms/job\n")
    return root, self_cgroup


def test_the_tightest_quota_up_the_tree_counts(tmp_path):
    root, me = v2_tree(tmp_path, "50000 100000", str(768 * 2**20))
    assert cpus.cgroup_quota(root, me) == 0.5 and cpus.cgroup_memory_mb(root, me) == 768
    root, me = v2_tree(tmp_path / "none", "max 100000", "max")
    assert cpus.cgroup_quota(root, me) is None and cpus.cgroup_memory_mb(root, me) is None


def test_cgroup_v1_layout(tmp_path):
    root = tmp_path / "cgroup"
    for controller, files in (("cpu,cpuacct", {"cpu.cfs_quota_us": "90000", "cpu.cfs_period_us": "100000"}),
                              ("memory", {"memory.limit_in_bytes": str(2048 * 2**20)})):
        (root / controller / "docker" / "abc").mkdir(parents=True)
        for name, value in files.items():
            (root / controller / "docker" / "abc" / name).write_text(value)
    me = tmp_path / "self_cgroup"
    me.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n")
    assert cpus.cgroup_quota(root, me) == pytest.approx(0.9) and cpus.cgroup_memory_mb(root, me) == 2048


def test_a_batch_share_caps_what_a_grader_uses(monkeypatch):
    monkeypatch.setenv(cpus.SHARE_VARIABLE, "1")
    assert cpus.available() <= 1 and cpus.slots() == 1
    monkeypatch.setenv(cpus.SHARE_VARIABLE, "not a number")
    assert cpus.available() >= 1


def test_in_half_a_cpu_and_768_mb_groups_run_one_at_a_time_and_the_worker_has_one_thread():
    require_system(unavailable() is None, "cgroups with CPU and memory limits (root)",
                   "run as root on a machine whose cgroups can be written (CI does)")
    probe = ("from grader import cpus\nfrom grader.orchestrator import parallel_groups\n"
             "from grader.sandbox import Limits\nfrom grader.sandbox.launch import environment\n"
             "env = environment('process', __import__('pathlib').Path('/tmp'), Limits())\n"
             "print(cpus.available(), cpus.cgroup_memory_mb(), parallel_groups(3), env['OMP_NUM_THREADS'])")
    usage = run_limited([sys.executable, "-c", probe], memory_mb=768, cpus=0.5, timeout=120, cwd=REPO_ROOT,
                        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert usage.stdout.split() == ["0.5", "768.0", "1", "1"], usage.stderr
    outside = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT)
    assert outside.stdout.split()[3] == "1"   # one torch thread per worker whatever the machine has
