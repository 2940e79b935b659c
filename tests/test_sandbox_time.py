"""Time limits count CPU seconds of the worker's whole process tree; idle time ends a hang; a worker the
machine starves is never the student's fault (grader/sandbox/cpuclock.py, watchdog.py).

Fake workers (plain Python, no torch), in each sandbox mode. The starvation test puts the worker in a cgroup
with 2% of a CPU, which is what any machine under heavy load looks like to it, only more so.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cgroup_limits import CGROUP, _own, _v2, unavailable
from conftest import require_system
from grader.sandbox import Limits, WorkerFailure, WorkerSession, watchdog
from grader.sandbox.cpuclock import Usage
from sandbox_fakes import FAKE, need_mode

SPIN = "import time\nend = time.process_time() + {}\nwhile time.process_time() < end: pass\n"


@pytest.fixture(params=["none", "process", "bwrap"])
def mode(request):
    need_mode(request.param)
    return request.param


def session(tmp_path, mode, **limits) -> WorkerSession:
    return WorkerSession(tmp_path, mode, Limits(startup_cpu_s=20, **limits), program=FAKE)


def fails(s: WorkerSession, code: str, cpu_limit_s: float) -> WorkerFailure:
    with pytest.raises(WorkerFailure) as caught:
        s.call("fake", cpu_limit_s, code=code)
    return caught.value


def test_cpu_of_threads_children_and_exited_children_is_counted(tmp_path, mode):
    """1.5 CPU s in a thread, 1.5 in a child that has exited by the time the call ends: 3 s, within 5."""
    code = ("import subprocess, sys, threading\n"
            f"t = threading.Thread(target=exec, args=({SPIN.format(1.5)!r},)); t.start(); t.join()\n"
            f"subprocess.run([sys.executable, '-c', {SPIN.format(1.5)!r}])\n"
            "result = 'done'\n")
    with session(tmp_path, mode) as s:
        assert s.call("fake", 5, code=code)["result"] == "done"
        assert 2.8 <= s.last_usage.cpu_s <= 4, s.last_usage


def test_the_cpu_limit_ends_an_endless_loop_in_a_grandchild(tmp_path, mode):
    code = ("import subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', 'import subprocess, sys; "
            "subprocess.run([sys.executable, \"-c\", \"while True: pass\"])'])\n")
    with session(tmp_path, mode) as s:
        failure = fails(s, code, cpu_limit_s=1)
    assert failure.kind == "timeout" and "time limit of 1 s of CPU time" in str(failure)
    assert s.last_usage.cpu_s < 3


def test_idle_time_ends_a_sleep_that_uses_no_cpu(tmp_path, mode):
    with session(tmp_path, mode) as s:
        started = time.monotonic()
        failure = fails(s, "import time; time.sleep(600)", cpu_limit_s=1)
        assert failure.kind == "timeout" and "sat idle" in str(failure) and "time limit of 1 s" in str(failure)
        assert time.monotonic() - started < 30   # not the 600 s sleep
        assert s.last_usage.idle_s >= 1 and s.last_usage.cpu_s < 0.5


@pytest.mark.parametrize("usage, kind", [
    (Usage(wall_s=100, cpu_s=2, idle_s=3, active_s=97), "starved"),    # runnable all along, got little CPU
    (Usage(wall_s=100, cpu_s=2, idle_s=60, active_s=40), "timeout"),   # mostly asleep: the student's
])
def test_the_backstop_tells_a_starved_worker_from_a_hung_one(usage, kind):
    limit = watchdog.TimeLimit(cpu_s=10, idle_s=99, wall_s=90)
    failure = limit.failure(usage, cpu_over=False)
    assert failure.kind == kind
    if kind == "starved":
        assert "nothing is wrong with your code" in str(failure) and "got 2.0 s of CPU time" in str(failure)


def test_the_backstop_scales_with_the_cpu_share_the_machine_grants():
    full, half = watchdog.TimeLimit.of(60, 1.0), watchdog.TimeLimit.of(60, 0.5)
    assert half.cpu_s == full.cpu_s == 60 and half.wall_s > 1.9 * (full.wall_s - watchdog.BACKSTOP_SLACK_S)


def test_a_worker_starved_by_a_cpu_quota_is_the_machines_fault(tmp_path, mode, monkeypatch):
    require_system(unavailable() is None, "cgroups with CPU limits (root)",
                   "run as root on a machine whose cgroups can be written (CI does)")
    monkeypatch.setattr(watchdog, "BACKSTOP_FACTOR", 1)
    monkeypatch.setattr(watchdog, "BACKSTOP_SLACK_S", 3)
    folder = throttled_cgroup(f"grader-starve-{os.getpid()}-{mode}", cpus=0.02)
    try:
        with session(tmp_path, mode) as s:
            assert s.call("fake", 5, code="result = 1")["result"] == 1      # started before the squeeze
            for pid in s.tree.members():
                (folder / "cgroup.procs").write_text(str(pid))
            failure = fails(s, SPIN.format(3), cpu_limit_s=1)   # 1 CPU s would end it; it gets far less
        assert failure.kind == "starved", failure
        assert "too busy" in str(failure) and "nothing is wrong with your code" in str(failure)
        assert s.last_usage.cpu_s < 1 and s.last_usage.starved_s > s.last_usage.idle_s
    finally:
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def throttled_cgroup(name: str, cpus: float) -> Path:
    if _v2():
        folder = CGROUP / _own("") / name
        folder.mkdir()
        (folder / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
        return folder
    folder = CGROUP / "cpu" / _own("cpu") / name
    folder.mkdir()
    (folder / "cpu.cfs_period_us").write_text("100000")
    (folder / "cpu.cfs_quota_us").write_text(str(int(cpus * 100_000)))
    return folder


@pytest.mark.parametrize("starve_calls, starved", [(1, False), (99, True)])
def test_a_starved_group_is_graded_again_then_left_ungraded(tmp_path, monkeypatch, starve_calls, starved):
    """The orchestrator grades a group whose worker the machine starved once more from scratch; if it starves
    again, its items are not graded (never 0 for the student's code), the report lists them, `grade` exits 75."""
    import yaml
    from conftest import DATA, fast_rubric, write_submission
    from grader import __main__ as cli
    from grader.config import load_config
    from grader.errors import EXIT_MACHINE_BUSY
    from grader.orchestrator import grade

    real_call, seen = WorkerSession.call, []

    def call(self, task, cpu_limit_s, *args, **params):
        seen.append(task)
        if len(seen) <= starve_calls:
            raise WorkerFailure("starved", "the machine was too busy to finish grading this item; nothing is "
                                           "wrong with your code (test)")
        return real_call(self, task, cpu_limit_s, *args, **params)
    monkeypatch.setattr(WorkerSession, "call", call)
    raw = yaml.safe_load(fast_rubric(tmp_path / "r.yaml").read_text())
    raw["items"] = [i for i in raw["items"] if i["id"].startswith("pixel_unshuffle")]
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp_path / "r.yaml", "quick")
    submission = write_submission(tmp_path / "sub")
    report = grade(submission, config, DATA, sandbox="none")
    item = report.tests[0]
    if starved:
        assert report.starved == ["pixel_unshuffle.values"] and not report.complete and len(seen) == 2
        assert not item.graded and item.score == 0 and "too busy" in item.output and "nothing is wrong" in item.output
        code = cli.main(["grade", str(submission), "--config", str(tmp_path / "r.yaml"), "--sandbox", "none",
                         "--profile", "quick", "--out", str(tmp_path / "report.json")])
        assert code == EXIT_MACHINE_BUSY
    else:
        assert report.starved == [] and report.complete and item.status == "passed" and len(seen) == 2
