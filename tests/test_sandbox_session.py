"""WorkerSession with fake workers (plain Python, no torch): every limit and protocol rule, in each mode.

Each test starts one or two small Python children and takes a second or two.
"""
from __future__ import annotations

import os
import secrets
import signal
import time

import pytest

from grader.sandbox import Limits, WorkerFailure, WorkerSession
from grader.sandbox.reaper import alive, parents
from sandbox_fakes import FAKE, NEVER_READY, need_mode, processes_named, wait_until

MODES = ["none", "process", "bwrap"]


@pytest.fixture(params=MODES)
def mode(request):
    need_mode(request.param)
    return request.param


def session(tmp_path, mode, program=FAKE, **limits) -> WorkerSession:
    return WorkerSession(tmp_path, mode, Limits(startup_cpu_s=20, **limits), program=program)


def fails(s: WorkerSession, code: str, timeout_s: float = 20) -> WorkerFailure:
    with pytest.raises(WorkerFailure) as caught:
        s.call("fake", timeout_s, code=code)
    return caught.value


def test_a_task_replies_and_reports_progress(tmp_path, mode):
    seen = []
    with session(tmp_path, mode) as s:
        code = "send({'id': req['id'], 'progress': [1, 2]}); print('hello', flush=True); result = req['x'] * 2"
        reply = s.call("fake", 10, on_progress=lambda done, total: seen.append((done, total)), code=code, x=21)
    assert reply["ok"] and reply["result"] == 42 and reply["printed"] == "hello\n"
    assert seen == [(1, 2)]


def test_deadline_kills_an_endless_task_and_the_next_call_starts_afresh(tmp_path, mode):
    with session(tmp_path, mode) as s:
        started = time.monotonic()
        failure = fails(s, "import time; time.sleep(600)", timeout_s=1)
        assert failure.kind == "timeout" and "time limit of 1 s" in str(failure)
        assert time.monotonic() - started < 30   # not the 600 s sleep (a loaded machine starts Python slowly)
        assert s.call("fake", 10, code="result = 'fresh'")["result"] == "fresh"


def test_a_worker_that_never_starts_times_out_as_not_the_students_fault(tmp_path):
    with WorkerSession(tmp_path, "process", Limits(startup_cpu_s=1), program=NEVER_READY) as s:
        failure = fails(s, "result = 1")
    assert failure.kind == "starved" and "not your code's fault" in str(failure)


def test_memory_cap_counts_the_worker_and_its_children(tmp_path, mode):
    grow = ("import time\nchunks = []\nfor _ in range(100):\n"
            "    chunks.append(b'x' * (10 * 2**20))\n    time.sleep(0.03)\ntime.sleep(600)\n")
    # the allocating process is a child of the worker: it counts too
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grow!r}])"
    with session(tmp_path, mode, memory_mb=120) as s:
        failure = fails(s, code)
    assert failure.kind == "memory" and "memory limit of 120 MB" in str(failure)


def test_disk_cap_counts_files_in_its_folder_and_its_tmp(tmp_path, mode):
    code = ("import os, time\nwith open(os.path.join(os.environ.get('TMPDIR', 'tmp'), 'big'), 'wb') as f:\n"
            "    for _ in range(200):\n        f.write(os.urandom(2**20)); f.flush(); time.sleep(0.01)\n"
            "time.sleep(600)\n")
    with session(tmp_path, mode, disk_mb=20) as s:
        failure = fails(s, code)
    assert failure.kind == "disk" and "disk limit of 20 MB" in str(failure)


def test_a_print_flood_keeps_only_the_tail_and_says_how_much_was_dropped(tmp_path, mode):
    code = "import sys\nfor i in range(30000): sys.stdout.write('%099d\\n' % i)\nprint('LAST LINE', flush=True)"
    with session(tmp_path, mode, output_kb=4) as s:
        printed = s.call("fake", 20, code=code)["printed"]
    note, tail = printed.split("\n", 1)
    assert note.startswith("[... ") and note.endswith(" earlier bytes of output dropped ...]")
    assert int(note[5:].split()[0].replace(",", "")) + len(tail) == 30000 * 100 + len("LAST LINE\n")
    assert len(tail) == 4096 and tail.endswith("LAST LINE\n")


@pytest.mark.parametrize("write, why", [
    ("replies.write('{\"id\": %d, \"ok\": true, \"token\": \"%s\"}\\n' % (req['id'], '0' * 32))", "forged"),
    ("replies.write('{\"id\": %d, \"ok\": true}\\n' % req['id'])", "forged"),
    ("replies.write('this is not json\\n')", "not a grader reply"),
    ("replies.write('[1, 2, 3]\\n')", "not a grader reply"),
    ("replies.write('x' * (17 * 2**20))", "oversized"),
    ("replies.write('\"' + 'x' * (17 * 2**20) + '\"\\n')", "oversized"),
])
def test_forged_or_malformed_replies_break_the_protocol(tmp_path, write, why):
    with session(tmp_path, "process") as s:
        failure = fails(s, write + "\nimport time; time.sleep(600)")
    assert failure.kind == "protocol" and why in str(failure)


@pytest.mark.parametrize("code, expected", [
    ("import os; os._exit(3)", "exited with status 3"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "killed by SIGSEGV (a crash in native code)"),
])
def test_a_dead_worker_is_a_crash_named_in_the_students_terms(tmp_path, mode, code, expected):
    with session(tmp_path, mode) as s:
        failure = fails(s, code)
    assert failure.kind == "crash" and expected in str(failure)


ESCAPE = """
import os, time
name = req['name']
if os.fork() == 0:
    os.setsid()                      # its own session and process group
    if os.fork() == 0:               # double fork: re-parented away from the worker
        open('/proc/self/comm', 'w').write(name)
        time.sleep(600)
    os._exit(0)
for _ in range(200):
    if any(open(f'/proc/{p}/comm').read().strip() == name for p in os.listdir('/proc') if p.isdigit()
           and os.path.exists(f'/proc/{p}/comm')):
        break
    time.sleep(0.01)
"""


def test_close_kills_a_double_forked_setsid_descendant(tmp_path, mode):
    name = "sbx" + secrets.token_hex(4)
    s = session(tmp_path, mode)
    try:
        s.call("fake", 20, code=ESCAPE, name=name)
        assert len(processes_named(name)) == 1   # it escaped the worker's process group and parentage
        worker = s.proc.pid
    finally:
        s.close()
    assert processes_named(name) == [] and not alive(worker)
    assert not os.path.exists(s.dir)


def test_a_failure_kills_the_descendants_too(tmp_path, mode):
    name = "sbx" + secrets.token_hex(4)
    with session(tmp_path, mode) as s:
        s.call("fake", 20, code=ESCAPE, name=name)
        fails(s, "import time; time.sleep(600)", timeout_s=0.5)
        assert wait_until(lambda: processes_named(name) == [], 2)


def test_a_fresh_worker_ends_the_groups_worker_so_no_limit_counts_both(tmp_path, mode):
    """Evaluating a trained model starts a second worker (grader/checks/run.py): the group's idle worker,
    holding 200 MB, must be gone, or its memory counts against the fresh worker's 300 MB cap."""
    import numpy as np
    from grader.checks.run import Run
    from grader.config import load_config

    hold = "import builtins, time; builtins.held = b'x' * ({} * 2**20); time.sleep(1); result = 'held'"
    with session(tmp_path, mode) as group:
        assert group.call("fake", 10, code=hold.format(200))["result"] == "held"
        idle = group.proc.pid
        run = Run(load_config(None, "quick"), None, {}, group, lambda *a: None, np.random.default_rng(0),
                  new_session=lambda: session(tmp_path, mode, memory_mb=300))
        with run.fresh_session() as fresh:
            assert not alive(idle)
            assert fresh.call("fake", 10, code=hold.format(150))["result"] == "held"
        assert group.call("fake", 10, code="result = 'restarted'")["result"] == "restarted"


def test_two_live_workers_of_one_grader_neither_count_nor_kill_each_other(tmp_path, mode):
    """The mechanism under the test above: both workers are children of this process, the second started
    after the first (and, as root in process mode, both of one uid); neither is the other's orphan."""
    hold = "import builtins, time; builtins.held = b'x' * ({} * 2**20); time.sleep(1); result = 'held'"
    with session(tmp_path, mode, memory_mb=300) as first:
        assert first.call("fake", 10, code="result = 'started'")["result"] == "started"
        with session(tmp_path, mode) as second:
            assert second.call("fake", 10, code=hold.format(200))["result"] == "held"
            assert first.call("fake", 10, code=hold.format(150))["result"] == "held"   # 150 MB of 300: its own
            assert second.proc.pid not in first.tree.members()
        assert first.call("fake", 10, code="result = 'still here'")["result"] == "still here"


@pytest.mark.parametrize("mode", ["none", "process"])   # bwrap: the inner processes die with the outer one
def test_a_killed_workers_child_is_not_taken_for_the_other_live_workers_orphan(tmp_path, mode):
    """Groups run side by side. When one group's worker is killed, its child is re-parented to this process
    (a subreaper) before it dies: the other group's tree counted it as a fresh orphan of its own, and with it
    the memory it held (CI: sr.psnr failed on the memory limit that cnn.accuracy's worker passed)."""
    name = "sbx" + secrets.token_hex(4)
    child = ("import os, time\nif os.fork() == 0:\n    open('/proc/self/comm', 'w').write(req['name'])\n"
             "    held = b'x' * (200 * 2**20)\n    time.sleep(600)\n"
             "while not any(open(f'/proc/{p}/comm').read().strip() == req['name'] for p in os.listdir('/proc')\n"
             "              if p.isdigit() and os.path.exists(f'/proc/{p}/comm')):\n    time.sleep(0.01)\n"
             "time.sleep(0.5)\nresult = 'forked'")
    hold = "import builtins, time; builtins.held = b'x' * (150 * 2**20); time.sleep(1); result = 'held'"
    with session(tmp_path, mode) as first, session(tmp_path, mode, memory_mb=300) as second:
        assert second.call("fake", 10, code="result = 'started'")["result"] == "started"
        assert first.call("fake", 10, code=child, name=name)["result"] == "forked"
        [orphan] = processes_named(name)
        assert orphan in first.tree.members()
        os.kill(first.proc.pid, signal.SIGKILL)
        assert wait_until(lambda: parents().get(orphan) == os.getpid(), 5)   # re-parented to this process
        assert alive(orphan)
        assert orphan not in second.tree.members()
        assert second.call("fake", 10, code=hold)["result"] == "held"   # 150 MB of 300: its own alone
        first.stop_worker()
        assert wait_until(lambda: processes_named(name) == [], 5), "the killed worker's child outlived its tree"


def test_a_worker_spawned_while_the_grade_is_being_stopped_is_ended_not_left_running(tmp_path, monkeypatch):
    """SIGTERM's stop_all() kills every session's worker; one being spawned at that moment had no process yet
    to kill, and ran its whole task (the grade waited for it) or outlived a grader killed meanwhile."""
    import threading
    from grader.sandbox import launch
    stopped, spawned = threading.Event(), []

    def spawn_then_stop(*args, **kwargs):
        proc, read_fd = real_spawn(*args, **kwargs)
        spawned.append(proc.pid)
        stopped.set()   # what Sessions.stop_all does from the main thread, at the worst moment
        return proc, read_fd
    real_spawn = launch.spawn
    monkeypatch.setattr(launch, "spawn", spawn_then_stop)
    with WorkerSession(tmp_path, "process", Limits(startup_cpu_s=20), program=FAKE, stopped=stopped) as s:
        failure = fails(s, "import time; time.sleep(600)")
    assert "stopped while this worker started" in str(failure), failure
    assert spawned and not alive(spawned[0])
