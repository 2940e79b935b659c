"""Run a command under an LMS container's memory and CPU limits, and measure what it used.

A child of our own cgroup gets the platform's limits (cgroup v1 memory.limit_in_bytes + cpu.cfs_quota_us,
or v2 memory.max + cpu.max), like Docker gives the platform's container: Gradescope 768 MB and 0.5 CPU by
default, PrairieLearn 2 GiB and 0.9 CPU. Measured: wall time, CPU time of the process tree, the cgroup's peak (what the platform's OOM
killer compares with the limit) and the peak of the summed RSS of its processes (sampled every 0.1 s).
Needs root and writable memory and cpu controllers; `unavailable()` says why not.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


@dataclass
class Usage:
    returncode: int
    wall_s: float
    peak_mb: float          # the cgroup's own peak (RSS + page cache it charged)
    peak_rss_mb: float      # largest sum of VmRSS over its processes
    cpu_s: float            # user + system CPU time of the whole process tree
    cpu_by_process: list[tuple[str, float]]   # (command line, CPU seconds) per process, in start order
    oom_killed: bool
    stdout: str
    stderr: str


def _own(controller: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(",") or (controller == "" and names == ""):
            return path.lstrip("/")
    return ""


def _v2() -> bool:
    return (CGROUP / "cgroup.controllers").is_file()


def _make(name: str, memory_mb: int, cpus: float) -> list[Path]:
    """Create the cgroup(s); return the folders whose cgroup.procs a child must join."""
    if _v2():
        folder = CGROUP / _own("") / name
        folder.mkdir()
        (folder / "memory.max").write_text(str(memory_mb * 2**20))
        (folder / "memory.swap.max").write_text("0")
        (folder / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
        return [folder]
    memory, cpu = CGROUP / "memory" / _own("memory") / name, CGROUP / "cpu" / _own("cpu") / name
    memory.mkdir()
    cpu.mkdir()
    (memory / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
    (cpu / "cpu.cfs_period_us").write_text("100000")
    (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * 100_000)))
    return [memory, cpu]


def unavailable() -> str | None:
    """None when limits can be applied here, else the reason."""
    if os.geteuid() != 0:
        return "needs root to create cgroups"
    name = f"grader-probe-{os.getpid()}"
    try:
        folders = _make(name, 64, 0.5)
    except OSError as exc:
        return f"cannot create a limited cgroup under {CGROUP} ({exc})"
    for folder in folders:
        folder.rmdir()
    return None


def _procs(folders: list[Path]) -> set[int]:
    try:
        return {int(p) for p in (folders[0] / "cgroup.procs").read_text().split()}
    except OSError:
        return set()


def _rss_mb(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")))
        except (OSError, StopIteration, ValueError):
            pass
    return total / 1024


def _cpu(pid: int) -> tuple[str, float] | None:
    """(command line, user + system CPU seconds so far) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, IndexError):
        return None
    return cmdline, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_limited(cmd: list[str], memory_mb: int, cpus: float, timeout: float, **popen) -> Usage:
    """Run `cmd` in a fresh cgroup limited to `memory_mb` and `cpus`; everything it starts stays inside."""
    folders = _make(f"grader-limit-{os.getpid()}-{time.monotonic_ns()}", memory_mb, cpus)

    def join():
        for folder in folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    peak_rss, done, cpu_seen = [0.0], threading.Event(), {}

    def sample():   # a process's last sample before it exits is its CPU time (to within 0.1 s)
        while not done.wait(0.1):
            pids = _procs(folders)
            peak_rss[0] = max(peak_rss[0], _rss_mb(pids))
            for pid in pids:
                seen = _cpu(pid)
                if seen:   # a zombie has an empty command line: keep the one seen while it ran
                    cpu_seen[pid] = (cpu_seen[pid][0] if pid in cpu_seen and cpu_seen[pid][0] else seen[0], seen[1])
    threading.Thread(target=sample, daemon=True).start()
    start, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, preexec_fn=join, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)   # the child and every descendant it waited for
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    done.set()
    for pid in _procs(folders):   # nothing it started outlives it
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    memory = folders[0]
    if _v2():
        peak = int((memory / "memory.peak").read_text()) if (memory / "memory.peak").exists() else 0
        events = (memory / "memory.events").read_text()
        oom = any(l.startswith("oom_kill ") and int(l.split()[1]) > 0 for l in events.splitlines())
    else:
        peak = int((memory / "memory.max_usage_in_bytes").read_text())
        control = (memory / "memory.oom_control").read_text()
        oom = any(l.startswith("oom_kill ") and int(l.split()[1]) > 0 for l in control.splitlines())
    for _ in range(50):
        if not _procs(folders):
            break
        time.sleep(0.1)
    for folder in folders:
        folder.rmdir()
    return Usage(proc.returncode, wall, peak / 2**20, peak_rss[0], cpu, [cpu_seen[p] for p in sorted(cpu_seen)],
                 oom, out, err)
