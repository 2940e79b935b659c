"""The worker's private folder: layout, arrays in and out, disk accounting and deletion at any depth."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import WorkerFailure, WorkerProgram
from grader.sandbox.tree import disk_usage, remove_tree
from grader.sandbox.workspace import Workspace

PROGRAM = WorkerProgram({"fake.py": b"pass\n", "pkg/__init__.py": b""}, ("fake.py",))


def deep_tree(top, depth: int, payload: bytes = b"") -> None:
    """`depth` nested folders under top, with a file at the bottom; built with dir fds because the full
    path is far longer than PATH_MAX."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    with os.fdopen(os.open("bottom", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as f:
        f.write(payload)
    os.close(fd)


@pytest.fixture
def fast_tmp(tmp_path):
    """A folder on tmpfs where there is one: thousands of mkdir/rmdir take seconds on some disks."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path / "t"
    folder.mkdir(exist_ok=True)
    yield folder
    remove_tree(folder)   # pytest's own cleanup (shutil.rmtree) would hit RecursionError


@pytest.fixture
def workspace(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "model.py").write_text("class CNN: pass\n")
    (submission / "secret.txt").write_text("not copied")
    w = Workspace(submission, PROGRAM)
    yield w
    w.remove()


def test_layout_program_files_and_only_the_submission_files(workspace):
    names = {p.relative_to(workspace.root).as_posix() for p in workspace.root.rglob("*")}
    assert names == {"in", "out", "tmp", "shm", "submission", "submission/model.py", "fake.py", "pkg",
                     "pkg/__init__.py"}


def test_program_files_may_not_clash_with_the_layout_or_climb_out(tmp_path):
    with pytest.raises(ValueError, match="clash"):
        Workspace(tmp_path, WorkerProgram({"in/x.py": b""}, ("x",)))
    for bad in ("../x.py", "/etc/passwd", "a/b/c.py"):
        with pytest.raises(ValueError, match="plain relative name"):
            WorkerProgram({bad: b""}, ("x",))


def test_arrays_round_trip(workspace):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    rel = workspace.write_input("probe", array)
    assert rel == "in/probe.npy"
    os.replace(workspace.root / rel, workspace.root / "out" / "probe.npy")
    assert np.array_equal(workspace.read_output("out/probe.npy"), array)


@pytest.mark.parametrize("make, rel, why", [
    (lambda root: None, 7, "instead of an output file"),
    (lambda root: None, "../../etc/passwd", "instead of an output file"),
    (lambda root: os.symlink("/etc/passwd", root / "out" / "a.npy"), "out/a.npy", "cannot be opened"),
    (lambda root: os.mkfifo(root / "out" / "a.npy"), "out/a.npy", "not a regular file"),
    (lambda root: np.save(root / "out" / "a.npy", np.array([{}]), allow_pickle=True), "out/a.npy",
     "not a plain .npy array"),
    (lambda root: None, "out/missing.npy", "cannot be opened"),
])
def test_bad_outputs_break_the_protocol(workspace, make, rel, why):
    make(workspace.root)
    with pytest.raises(WorkerFailure, match=why) as caught:
        workspace.read_output(rel)
    assert caught.value.kind == "protocol"


def test_disk_accounting_sees_files_at_any_depth(fast_tmp):
    deep_tree(fast_tmp, 2200, os.urandom(3 * 2**20))
    assert disk_usage(fast_tmp, 10_000)[0] >= 3 * 2**20   # a path-based walk stops at PATH_MAX and misses it


def test_remove_tree_deletes_a_2200_deep_tree_and_never_raises(fast_tmp):
    root = fast_tmp / "w"
    root.mkdir()
    deep_tree(root, 2200)
    if sys.version_info < (3, 12):                 # recursive before 3.12: what the grader used to call
        with pytest.raises(RecursionError):
            shutil.rmtree(root)
    (root / "link").symlink_to(fast_tmp)           # followed, it would delete the test's own folder
    (root / "locked").mkdir()
    (root / "locked" / "f").write_text("x")
    os.chmod(root / "locked", 0o500)
    remove_tree(root)
    assert not root.exists() and fast_tmp.is_dir()
    remove_tree(root)                              # already gone: still no error


def test_remove_tree_of_a_symlink_removes_only_the_link(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    remove_tree(tmp_path / "link")
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "target" / "keep").exists()
