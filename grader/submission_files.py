"""Reading a submitted file: the one way the trusted side opens a student's file.

The grader runs as root before any sandbox exists, on folders a student shaped (a cloned GitHub Classroom
repository can hold symbolic links; an upload can hold a FIFO, a device node or a 2 GiB sparse file). So a
submission file is opened relative to its folder's descriptor with O_NOFOLLOW (a link is refused, never
followed), O_NONBLOCK (a FIFO cannot hang the grader), checked to be a regular file with fstat, and read
up to MAX_SUBMISSION_BYTES (more is refused before anything is read). Every reader (the report's file
list, the static check, the worker's copy, similarity) gets its bytes from here, and grading works on one
snapshot of them (`snapshot`), so what was checked is what runs.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from .sinks import terminal_text

MAX_SUBMISSION_BYTES = 2**20   # the reference's files are 3-4 KB; honest solutions stay far below this
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class SubmissionFileError(ValueError):
    """The file cannot be graded; the message says why in a student's terms."""


def _kind(mode: int) -> str:
    return ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a device node" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")


def read_submission_file(folder: str | os.PathLike, name: str, limit: int = MAX_SUBMISSION_BYTES,
                         beneath: str | os.PathLike | None = None) -> bytes:
    """The bytes of folder/name; FileNotFoundError when it is missing, SubmissionFileError when it is a
    link, not a regular file, or larger than `limit`. `name` is one path component. With `beneath`, `folder`
    is relative to that root and no folder on the way may be a link either: a folder listed earlier and
    swapped for a link to elsewhere since (a bulk download a student can still write to) is refused."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a file name")
    shown = terminal_text(name)
    dir_fd = os.open(folder, _DIR_FLAGS) if beneath is None else _open_beneath(beneath, folder)
    try:
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP or _is_link(name, dir_fd):
                raise SubmissionFileError(f"{shown} is a symbolic link; submit the file itself") from None
            if isinstance(exc, FileNotFoundError):
                raise
            raise SubmissionFileError(f"{shown} cannot be opened ({exc.strerror})") from None
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionFileError(f"{shown} is {_kind(info.st_mode)}, not a file; submit the file itself")
        if info.st_size > limit:
            raise SubmissionFileError(too_large(shown, info.st_size, limit))
        with os.fdopen(os.dup(fd), "rb") as f:
            content = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(content) > limit:   # it grew while we read
        raise SubmissionFileError(too_large(shown, len(content), limit))
    return content


def _open_beneath(root: str | os.PathLike, relative: str | os.PathLike) -> int:
    """A descriptor of root/relative, every part of `relative` opened with O_NOFOLLOW from the one before."""
    parts = PurePath(relative).parts
    if PurePath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"{relative!r} is not a path below {root!r}")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            try:
                inner = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise SubmissionFileError(f"the folder {terminal_text(str(relative))} is a symbolic link or "
                                              f"not a folder any more (it changed while it was read); submit "
                                              f"the files themselves") from None
                raise
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def too_large(shown: str, size: int, limit: int) -> str:
    return (f"{shown} is {size:,} bytes, more than the {limit:,} bytes a submitted file may have; submit only "
            f"your code (no data, weights or outputs in it)")


@dataclass
class SubmittedFiles:
    """One read of a submission folder: each file's bytes, or why it cannot be graded."""
    folder: Path
    contents: dict[str, bytes] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)   # name -> message (missing, link, too large...)


def read_submission(folder: str | os.PathLike, names: tuple[str, ...]) -> SubmittedFiles:
    """Read every file in `names` from `folder` once."""
    found = SubmittedFiles(Path(folder))
    for name in names:
        try:
            found.contents[name] = read_submission_file(folder, name)
        except FileNotFoundError:
            found.problems[name] = f"{name} is missing"
        except (SubmissionFileError, OSError) as exc:
            found.problems[name] = str(exc) if isinstance(exc, SubmissionFileError) else \
                f"{name} cannot be read ({exc.strerror or exc})"
    return found


def snapshot(submission: SubmittedFiles) -> Path:
    """A private folder (0o700, the grader's) holding exactly the bytes read: what grading reads and runs.
    The caller removes it."""
    folder = Path(tempfile.mkdtemp(prefix="grader-submission-"))
    for name, content in submission.contents.items():
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
    return folder
