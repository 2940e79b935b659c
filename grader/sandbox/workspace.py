"""The worker's private folder: its layout, the arrays that go in and come out, and deleting it.

    <root>/submission/   the student's model.py and pixel_shuffle.py (copies)
    <root>/in/           arrays the grader sends (.npy)           read-only to the worker
    <root>/out/          arrays the worker returns (.npy)
    <root>/tmp/ shm/     the worker's /tmp and /dev/shm in bwrap (on disk, so the disk cap counts them)
    <root>/<program files>   the worker's own code (WorkerProgram.files)    read-only to the worker

The worker can write in this folder, so the trusted side never follows a path in it: it holds directory
fds for in/ and out/ from before any worker runs and opens names relative to them with O_NOFOLLOW
(O_EXCL for writes), names matched against a fixed pattern. "Read-only to the worker" means owned by
the grader with modes 0o444/0o555 (which binds a dropped uid) and, in bwrap, read-only bind mounts; a
worker with the grader's own uid (mode `none`, or root that could not drop) could still chmod them.
"""
from __future__ import annotations

import math
import os
import re
import stat
import tempfile
from pathlib import Path

from ..submission_files import SubmissionFileError, read_submission_file
from .errors import WorkerFailure
from .program import WorkerProgram
from .tree import disk_usage, remove_tree

SUBMISSION_FILES = ("model.py", "pixel_shuffle.py")
FOLDERS = ("submission", "in", "out", "tmp", "shm")
WORKER_WRITABLE = ("out", "tmp", "shm")
MAX_OUTPUT_BYTES = 256 * 2**20   # the largest real output (SR on the full BSDS test set) is about 30 MB
ARRAY_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
OUTPUT_PATH = re.compile(r"out/([A-Za-z0-9_]{1,64}\.npy)")
MAX_OUTPUT_PATH = len("out/") + 64 + len(".npy")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Workspace:
    def __init__(self, submission: Path, program: WorkerProgram):
        clash = set(program.tops) & set(FOLDERS)
        if clash:
            raise ValueError(f"worker program files {sorted(clash)} clash with the folder layout {FOLDERS}")
        self.root = Path(tempfile.mkdtemp(prefix="grader-worker-"))   # 0o700: no worker can see it yet
        for name in FOLDERS:
            (self.root / name).mkdir()
        for name, content in program.files.items():
            (self.root / name).parent.mkdir(exist_ok=True)
            (self.root / name).write_bytes(content)
            (self.root / name).chmod(0o444)
        for top in program.tops:
            if (self.root / top).is_dir():
                (self.root / top).chmod(0o555)
        for name in SUBMISSION_FILES:   # the bytes, read safely (never a link, a FIFO or a huge file)
            try:
                content = read_submission_file(submission, name)
            except (FileNotFoundError, SubmissionFileError):
                continue
            (self.root / "submission" / name).write_bytes(content)
        # root writes into 0o555 anyway; a non-root grader (whose worker has its uid) needs its w bit
        (self.root / "in").chmod(0o555 if os.geteuid() == 0 else 0o755)
        self.in_fd = os.open(self.root / "in", DIR_FLAGS)
        self.out_fd = os.open(self.root / "out", DIR_FLAGS)

    def hand_over(self, uid: int) -> None:
        """Let `uid` (the sandbox user) into the folder and let it write where the worker writes."""
        for name in WORKER_WRITABLE:
            os.chown(self.root / name, uid, uid)
        # the grader and this worker's group only: a classmate's worker, graded at the same time under
        # another sandbox uid, must not read this student's files (was 0o755)
        os.chown(self.root, -1, uid)
        os.chmod(self.root, 0o750)
        submission = self.root / "submission"   # readable whatever modes the upload had, writable by no one
        for path in submission.iterdir():
            os.chmod(path, 0o444)
        os.chmod(submission, 0o555)

    def write_input(self, name: str, array) -> str:
        """Save `array` as in/<name>.npy, read-only, whatever the worker planted there."""
        import numpy as np
        if not ARRAY_NAME.fullmatch(name):
            raise ValueError(f"input name {name!r}: expected letters, digits and _ (at most 64)")
        filename = f"{name}.npy"
        try:
            os.unlink(filename, dir_fd=self.in_fd)   # a symlink planted there goes, its target stays
        except FileNotFoundError:
            pass
        try:
            fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444,
                         dir_fd=self.in_fd)
        except OSError as exc:
            raise WorkerFailure("protocol", f"the worker tampered with its input folder: in/{filename} could "
                                            f"not be created ({exc.strerror})") from None
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        return f"in/{filename}"

    def read_output(self, rel):
        """Load an array the worker wrote: out/<plain name>.npy, a regular file (not a symlink, not a FIFO:
        opening that would block the grader), holding one plain .npy array whose header matches its size."""
        match = OUTPUT_PATH.fullmatch(rel) if isinstance(rel, str) and len(rel) <= MAX_OUTPUT_PATH else None
        if not match:
            shown = repr(rel)[:80] + ("..." if len(repr(rel)) > 80 else "")
            raise WorkerFailure("protocol", f"the worker named {shown} instead of an output file "
                                            f"out/<letters, digits, _>.npy")
        try:
            fd = os.open(match[1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.out_fd)
        except OSError as exc:
            raise WorkerFailure("protocol", f"the worker's output {rel} cannot be opened ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise WorkerFailure("protocol", f"the worker's output {rel} is not a regular file")
            if info.st_size > MAX_OUTPUT_BYTES:
                raise WorkerFailure("protocol", f"the worker's output {rel} is {info.st_size:,} bytes, more than "
                                                f"any expected output ({MAX_OUTPUT_BYTES:,})")
            try:
                return load_plain_npy(f, info.st_size)
            except Exception as exc:
                raise WorkerFailure("protocol", f"the worker's output {rel} is not a plain .npy array "
                                                f"({type(exc).__name__}: {str(exc)[:200]})") from None

    def disk_usage(self, max_entries: int) -> tuple[float, int]:
        """(MB taken, entries seen) under the folder; the walk stops after max_entries + 1 entries."""
        used, entries = disk_usage(self.root, max_entries)
        return used / 2**20, entries

    def remove(self) -> None:
        """Delete the folder, whatever the worker left in it; never raises."""
        for fd in (self.in_fd, self.out_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.in_fd = self.out_fd = -1
        remove_tree(self.root)


def load_plain_npy(f, size: int):
    """One array in .npy format 1.0/2.0, no objects, exactly as many data bytes as its header says (so a
    header claiming a huge shape allocates nothing). Anything else (.npz, pickle, ...) raises ValueError."""
    import numpy as np
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(f)
    else:
        raise ValueError(f".npy format version {version} is not accepted")
    if dtype.hasobject:
        raise ValueError("it holds Python objects")
    data_bytes = math.prod(shape) * dtype.itemsize
    if data_bytes != size - f.tell():
        raise ValueError(f"its header announces {data_bytes:,} bytes of data, the file holds {size - f.tell():,}")
    f.seek(0)
    return fmt.read_array(f, allow_pickle=False)
