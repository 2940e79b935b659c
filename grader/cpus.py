"""How many CPUs (and how much memory) this process may actually use: the affinity mask and the cgroup's
quotas, not the host's.

`os.cpu_count()` says 64 inside a 0.5-CPU Gradescope container; sizing threads or parallel jobs by it
oversubscribes the quota, and oversubscribed threads spin against each other (measured: the practical's
training at 0.8 steps/s with 2 threads and 4.4 with 1, same machine, same minute, under other load).
So workers run one torch thread each, always (no metric depends on the machine), and what runs in parallel
(a grade's item groups, `batch --jobs`) is sized from `available()`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


SHARE_VARIABLE = "GRADER_CPUS"   # set by `batch` for each grader it runs: its share of the batch's CPUs


def available() -> float:
    """CPUs this process may use: min(affinity mask, cgroup quota, GRADER_CPUS), e.g. 0.5 in Gradescope's
    container, or 1 for each of two graders `batch --jobs 2` runs on 2 CPUs."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    limits = [cpus, cgroup_quota() or cpus]
    try:
        limits.append(float(os.environ[SHARE_VARIABLE]) or cpus)
    except (KeyError, ValueError):
        pass
    return max(0.01, min(limits))


def slots() -> int:
    """Whole CPUs for things that run side by side (at least 1)."""
    return max(1, math.floor(available() + 1e-9))


def cgroup_quota(root: Path = CGROUP, self_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The tightest CPU quota (in CPUs) on this process's cgroup and its ancestors, v2 `cpu.max` or v1
    `cpu.cfs_quota_us / cpu.cfs_period_us`; None when there is none (or it cannot be read)."""
    return _tightest("cpu", _cpu_quota, root, self_cgroup)


def cgroup_memory_mb(root: Path = CGROUP, self_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The tightest memory limit (MB) on this process's cgroup and its ancestors (v2 `memory.max`, v1
    `memory.limit_in_bytes`), e.g. 768 in Gradescope's container; None when there is none."""
    return _tightest("memory", _memory_limit, root, self_cgroup)


def _tightest(controller: str, read, root: Path, self_cgroup: Path) -> float | None:
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v2 = controllers == ""
        if not v2 and controller not in controllers.split(","):
            continue
        base = root if v2 else _v1_mount(root, controllers, controller)
        if base is None:
            continue
        folder = base / path.lstrip("/")
        while True:   # a container sees its own cgroup as the root of the mount; walk up to the mount
            found.append(read(folder, v2))
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    found = [value for value in found if value]
    return min(found) if found else None


def _v1_mount(root: Path, controllers: str, controller: str) -> Path | None:
    for name in (controllers, "cpu,cpuacct" if controller == "cpu" else controller, controller):
        if (root / name).is_dir():
            return root / name
    return None


def _cpu_quota(folder: Path, v2: bool) -> float | None:
    try:
        if v2:
            quota, period = (folder / "cpu.max").read_text().split()
            return None if quota == "max" else int(quota) / int(period)
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def _memory_limit(folder: Path, v2: bool) -> float | None:
    try:
        value = (folder / ("memory.max" if v2 else "memory.limit_in_bytes")).read_text().strip()
        return None if value == "max" or int(value) >= 2**60 else int(value) / 2**20
    except (OSError, ValueError):
        return None
