"""Attacks on the trusted side's file handling and on the limits (issue 11, classes 1 and 5), with fake
workers: planted symlinks in in/ and out/, an .npz or a pickle where an array should be, a lying .npy
header, worker code and inputs read-only, memfd memory, a deep folder tree, too many files, huge paths."""
from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

from grader.sandbox import Limits, WorkerFailure, WorkerSession
from grader.sandbox.channel import MAX_REPLY_BYTES
from sandbox_fakes import FAKE, need_mode

MODES = ["none", "process", "bwrap"]


@pytest.fixture(params=MODES)
def mode(request):
    need_mode(request.param)
    return request.param


def session(tmp_path, mode, **limits) -> WorkerSession:
    return WorkerSession(tmp_path, mode, Limits(startup_cpu_s=20, **limits), program=FAKE)


def run(s: WorkerSession, code: str, timeout_s: float = 20, **params):
    return s.call("fake", timeout_s, code=code, **params)["result"]


def failure(s: WorkerSession, code: str, timeout_s: float = 20, **params) -> WorkerFailure:
    with pytest.raises(WorkerFailure) as caught:
        s.call("fake", timeout_s, code=code, **params)
    return caught.value


# ------------------------------------------------------------------ class 1: paths in the worker's folder
def test_a_symlink_planted_in_in_never_redirects_the_graders_write(tmp_path, mode):
    victim = tmp_path / "host_file.txt"
    victim.write_text("precious")
    with session(tmp_path, mode) as s:
        planted = run(s, "import os\ntry:\n    os.symlink(req['victim'], 'in/probe.npy')\n    result = True\n"
                         "except OSError:\n    result = False", victim=str(victim))
        # in bwrap in/ is a read-only bind; a dropped uid cannot write the grader's 0o555 folder (this fake
        # program does not do the grader worker's own late switch, so with drop_late it stays root)
        assert planted == (mode != "bwrap" and (s.drop_to is None or s.drop_late))
        rel = s.write_input("probe", np.arange(5))
        assert victim.read_text() == "precious"
        assert run(s, "import numpy\nresult = numpy.load(req['rel']).tolist()", rel=rel) == [0, 1, 2, 3, 4]


def test_inputs_and_worker_code_are_read_only_to_the_worker(tmp_path, mode):
    with session(tmp_path, mode) as s:
        s.write_input("probe", np.zeros(3))
        for rel in ("in/probe.npy", "fake.py"):
            assert stat.S_IMODE(os.stat(s.dir / rel).st_mode) == 0o444
        assert stat.S_IMODE(os.stat(s.dir / "in").st_mode) & 0o222 == (0 if os.geteuid() == 0 else 0o200)
        writable = run(s, "import os\nresult = []\nfor rel in ('fake.py', 'in/probe.npy', 'in/new.npy'):\n"
                          "    try:\n        open(rel, 'ab').close(); result.append(rel)\n"
                          "    except OSError:\n        pass")
    if mode == "bwrap" or (s.drop_to is not None and not s.drop_late):   # a late switch is the real worker's
        assert writable == []
    # elsewhere the worker has the grader's own uid (a laptop, or root that could not drop): it can


def test_a_symlink_in_out_is_not_followed(tmp_path, mode):
    secret = tmp_path / "secret.npy"
    np.save(secret, np.array([42]))
    with session(tmp_path, mode) as s:
        run(s, "import os\nos.symlink(req['secret'], 'out/stolen.npy')", secret=str(secret))
        with pytest.raises(WorkerFailure, match="cannot be opened") as caught:
            s.read_output("out/stolen.npy")
    assert caught.value.kind == "protocol"


def test_a_renamed_out_folder_does_not_move_what_the_grader_reads(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    np.save(outside / "x.npy", np.array([42]))
    with session(tmp_path, "none") as s:
        run(s, "import os\nos.rename('out', 'out_old')\nos.symlink(req['outside'], 'out')", outside=str(outside))
        with pytest.raises(WorkerFailure, match="cannot be opened"):
            s.read_output("out/x.npy")


@pytest.mark.parametrize("rel", ["in/probe.npy", "out/../in/probe.npy", "out/a/b.npy", "out/.npy", "out/x.npz",
                                 "out/" + "a" * 65 + ".npy", "out/" + "a/.." * 1_500_000 + "x.npy", 7, None],
                         ids=["in", "dotdot", "subfolder", "empty", "npz", "long", "6MB", "int", "None"])
def test_only_plain_names_in_out_are_read_and_checking_is_instant(tmp_path, rel):
    with session(tmp_path, "none") as s:
        started = time.process_time()   # CPU time: other load on the machine must not fail this
        with pytest.raises(WorkerFailure, match="instead of an output file") as caught:
            s.read_output(rel)
        assert time.process_time() - started < 0.1 and caught.value.kind == "protocol"


@pytest.mark.parametrize("write, why", [
    ("numpy.savez(f, a=numpy.zeros(3))", "not a plain .npy array"),
    ("numpy.save(f, numpy.array([{}, 1], dtype=object), allow_pickle=True)", "not a plain .npy array"),
    ("import pickle; pickle.dump([1, 2], f)", "not a plain .npy array"),
    ("f.write(b'\\x93NUMPY\\x01\\x00v\\x00' + (\"{'descr': '<f8', 'fortran_order': False, 'shape': "
     "(100000, 100000, 100000), }\".ljust(117) + '\\n').encode() + b'0' * 64)", "not a plain .npy array"),
    ("numpy.save(f, numpy.zeros(10)); f.truncate(100)", "not a plain .npy array"),
])
def test_anything_but_a_plain_npy_array_breaks_the_protocol(tmp_path, write, why):
    with session(tmp_path, "none") as s:
        run(s, f"import numpy\nwith open('out/x.npy', 'wb') as f:\n    {write}")
        started = time.process_time()
        with pytest.raises(WorkerFailure, match=why) as caught:
            s.read_output("out/x.npy")
    assert caught.value.kind == "protocol" and time.process_time() - started < 1


def test_a_genuine_output_is_read(tmp_path, mode):
    with session(tmp_path, mode) as s:
        rel = run(s, "import numpy\nnumpy.save('out/PixelShuffle_0_grad.npy', numpy.arange(6.0).reshape(2, 3))\n"
                     "result = 'out/PixelShuffle_0_grad.npy'")
        assert s.read_output(rel).tolist() == [[0, 1, 2], [3, 4, 5]]


# ------------------------------------------------------------------ class 5: limits that count the wrong thing
def test_memfd_memory_counts(tmp_path, mode):
    code = ("import os, time\nfds = []\nfor _ in range(60):\n    fd = os.memfd_create('hoard')\n"
            "    os.write(fd, b'x' * (8 * 2**20)); fds.append(fd); time.sleep(0.02)\ntime.sleep(600)")
    with session(tmp_path, mode, memory_mb=150) as s:
        caught = failure(s, code)
    assert caught.kind == "memory", caught


def test_a_deep_tree_hides_nothing_from_the_disk_cap_and_cleanup_removes_it(tmp_path, mode):
    # 100 folders of 100-character names: 10 kB of path, past PATH_MAX (a path-based walk stops there)
    code = ("import os, time\nfd = os.open('tmp', os.O_RDONLY)\nfor _ in range(100):\n"
            "    os.mkdir('d' * 100, dir_fd=fd); fd = os.open('d' * 100, os.O_RDONLY, dir_fd=fd)\n"
            "out = os.open('bottom', os.O_WRONLY | os.O_CREAT, dir_fd=fd)\n"
            "for _ in range(60):\n    os.write(out, os.urandom(2**20)); time.sleep(0.01)\ntime.sleep(600)")
    s = session(tmp_path, mode, disk_mb=25)
    try:
        caught = failure(s, code)
    finally:
        s.close()
    assert caught.kind == "disk", caught
    assert not s.dir.exists()


def test_too_many_files_is_over_the_disk_cap(tmp_path):
    code = "import os, time\nfor i in range(3000):\n    open(f'tmp/{i}', 'w').close()\ntime.sleep(600)"
    with session(tmp_path, "none", max_files=1000) as s:
        caught = failure(s, code)
    assert caught.kind == "disk" and "1,000 files" in str(caught)


def test_an_oversized_reply_is_refused_without_reading_it_all(tmp_path):
    code = ("replies.write('{\"id\": %d, \"result\": \"out/' % req['id'] + 'a' * 6_000_000 + '.npy\"}\\n')\n"
            "import time; time.sleep(600)")
    with session(tmp_path, "none") as s:
        started = time.monotonic()
        caught = failure(s, code)
    assert caught.kind == "protocol" and "oversized" in str(caught) and time.monotonic() - started < 30   # not 600
    assert MAX_REPLY_BYTES < 6_000_000
