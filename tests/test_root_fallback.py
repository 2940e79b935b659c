"""Issue 11 class 6: student code never runs with the grader's privileges unless --sandbox none is asked for.

As root, `process` mode runs student code as the sandbox uid: set before exec when that uid can read the
interpreter and torch, else by the worker itself once they are loaded (a pyenv under /root, as here and in
many containers). Without root and without bubblewrap, `auto` refuses with one line saying what to do.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import PATHS, by_id, require_system
from grader.config import REPO_ROOT
from grader.sandbox import modes, reaper, sandbox_uid

SPY_MODEL = '''import os
from torch import nn
secrets = []
for path in ("/root/.bashrc", "/proc/1/environ"):
    try:
        open(path, "rb").read(1)
        secrets.append(path)
    except OSError:
        pass
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError(f"uids {os.getresuid()} gids {os.getresgid()} groups {os.getgroups()} read {secrets}")
class Net(CNN):
    def __init__(self, r):
        super().__init__()
'''


def test_process_mode_as_root_runs_student_code_as_the_sandbox_uid(grade_files):
    require_system(os.geteuid() == 0, "root (the grader switches student code to another uid only as root)",
                   "sudo -E python -m pytest tests/test_root_fallback.py")
    report = grade_files(model=SPY_MODEL, sandbox="process")
    message = by_id(report)["cnn.interface"].output
    u = sandbox_uid()   # this test process's: graders running at once never share one
    assert f"uids ({u}, {u}, {u}) gids ({u}, {u}, {u}) groups [] read []" in message, message
    assert by_id(report)["pixel_shuffle.values"].status == "passed"     # the reference shuffle still grades
    assert "STILL ROOT" not in report.sandbox_note and f"as uid {u}" in report.sandbox_note
    # the data folder is named as readable by student code exactly when every user may read it
    assert (f"{PATHS.data} (the graded data" in report.sandbox_note) == modes.readable_by_everyone(PATHS.data)


def test_process_mode_names_the_secret_files_every_user_may_read(monkeypatch):
    """Process mode has no mount isolation: the report must say which secrets the sandbox uid could read."""
    monkeypatch.setattr(modes.os, "geteuid", lambda: 0)
    monkeypatch.setattr(modes, "sandbox_uid", lambda: modes.SANDBOX_UID)   # a pretend root holds no uid lock
    top = Path(tempfile.mkdtemp(dir="/tmp"))   # /tmp: every user may search it, unlike pytest's tmp_path
    try:
        (top / "open").mkdir(mode=0o755)
        (top / "closed").mkdir(mode=0o750)
        top.chmod(0o755)
        secrets = {str(top / "open"): "test labels", str(top / "closed"): "the reference solution"}
        note = modes.sandbox_note("process", secrets)
        assert f"WARNING: student code can read {top / 'open'} (test labels)" in note
        assert "closed" not in note and "chmod o-rwx" in note and "--sandbox bwrap" in note
        assert "WARNING" not in modes.sandbox_note("bwrap", secrets)   # bubblewrap mounts none of them
        (top / "open").chmod(0o700)
        assert "WARNING" not in modes.sandbox_note("process", secrets)
    finally:
        for sub in ("open", "closed"):
            (top / sub).rmdir()
        top.rmdir()


def test_uid_locks_live_in_a_private_folder_of_this_user(tmp_path, monkeypatch):
    # (was one /tmp folder for everyone: made 0700 by a root run, it broke every later non-root run)
    monkeypatch.setattr(modes.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(modes, "MACHINE_WIDE", (tmp_path,))
    folder = modes.uid_lock_folder()
    assert folder == tmp_path / ("grader-sandbox-uids" if os.geteuid() == 0 else f"grader-sandbox-uids-{os.geteuid()}")
    assert folder.stat().st_uid == os.geteuid() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert modes.uid_lock_folder() == folder   # made once, then reused
    folder.chmod(0o777)   # another user could have made it, or opened it up: refused, never used
    with pytest.raises(RuntimeError, match="expected a private folder"):
        modes.uid_lock_folder()


def test_graders_with_other_tmpdirs_never_share_a_sandbox_uid(tmp_path):
    """Root's graders take sandbox uids from one machine-wide folder, whatever their TMPDIR: two that shared a
    uid each counted, and killed, the other's workers (the kill sweep takes every process of the uid)."""
    require_system(os.geteuid() == 0, "root (sandbox uids are root's)", "run the tests as root (CI does)")
    probe = ("import sys, time\nfrom grader.sandbox.modes import sandbox_uid\nprint(sandbox_uid(), flush=True)\n"
             "time.sleep(5)")
    graders = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        graders.append(subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, "TMPDIR": str(tmp_path / name)}, cwd=REPO_ROOT))
    uids = [int(g.stdout.readline()) for g in graders]
    for g in graders:
        g.kill()
        g.wait()
    assert uids[0] != uids[1], uids


def test_a_dead_graders_workers_are_ended_before_its_sandbox_uid_is_reused():
    """A grader killed with SIGKILL (Ray ends a dead worker's children so) leaves its workers running as its
    sandbox uid. The next grader to take that uid would count them as its own worker's: in CI one student's
    einops items failed their limits while a killed classmate's training still ran as the uid."""
    require_system(os.geteuid() == 0, "root (sandbox uids are root's)", "run the tests as root (CI does)")
    dead = ("import os, subprocess, sys, time\nfrom grader.sandbox.modes import sandbox_uid\nuid = sandbox_uid()\n"
            "w = subprocess.Popen(['sleep', '600'], preexec_fn=lambda: (os.setsid(), os.setuid(uid)))\n"
            "print(uid, w.pid, flush=True)\ntime.sleep(600)")
    grader = subprocess.Popen([sys.executable, "-c", dead], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    uid, leftover = (int(v) for v in grader.stdout.readline().split())
    grader.kill()
    grader.wait()
    assert os.stat(f"/proc/{leftover}").st_uid == uid   # the dead grader's worker still runs as its uid
    again = subprocess.run([sys.executable, "-c", "from grader.sandbox.modes import sandbox_uid; print(sandbox_uid())"],
                           capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert int(again.stdout) == uid, "the next grader took another uid: nothing here shows the leftover ended"
    assert not reaper.alive(leftover)


def test_auto_refuses_when_it_cannot_isolate(monkeypatch):
    monkeypatch.setattr(modes, "bwrap_works", lambda: False)
    monkeypatch.setattr(modes.os, "geteuid", lambda: 1000)
    with pytest.raises(RuntimeError) as info:
        modes.resolve_mode("auto")
    message = str(info.value)
    assert "cannot isolate student code" in message and "bubblewrap" in message and "--sandbox none" in message
    assert modes.resolve_mode("process") == "process"    # asked for explicitly: allowed, and the note says so
    monkeypatch.setattr(modes.os, "geteuid", lambda: 0)
    assert modes.resolve_mode("auto") == "process" and modes.drops_root("process")
