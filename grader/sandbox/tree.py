"""Walking the worker's folder tree however deep it is: its size on disk, and deleting it.

The worker shapes this tree, so neither walk may recurse (a 2,200-deep tree made shutil.rmtree raise
RecursionError) nor build paths (past 4,096 bytes every path-based call fails with ENAMETOOLONG, and a
walk that skips what it cannot name hides what is there). Both go depth-first holding one directory fd
at a time, naming each entry relative to it, and never follow a symlink.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk(root: Path, on_entry: Callable[[int, os.DirEntry], bool],
         on_leave: Callable[[int, str], None] = lambda parent_fd, name: None) -> None:
    """Depth-first over everything under root. `on_entry(dir_fd, entry)` sees each entry of the directory
    open as dir_fd and returns whether to descend into it; `on_leave(parent_fd, name)` runs when the
    directory `name` inside parent_fd has been walked. OSErrors on single entries are skipped. Going back
    up through "..", the walk checks it is where it came from: a folder moved meanwhile (by a live worker)
    ends the walk rather than lead it out of root."""
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError:
        return
    names: list[str] = []                 # from root down to the directory open as fd
    ids = [_identity(fd)]                 # (st_dev, st_ino) of each directory on that path
    try:
        pending = [_scan(fd, on_entry)]   # per level: the subdirectories still to walk
        while pending:
            if pending[-1]:
                name = pending[-1].pop()
                child = _enter(name, fd)
                if child is None:
                    continue
                os.close(fd)
                fd = child
                names.append(name)
                ids.append(_identity(fd))
                pending.append(_scan(fd, on_entry))
                continue
            pending.pop()
            if not names:
                break
            parent = os.open("..", DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            ids.pop()
            if _identity(fd) != ids[-1]:
                break
            on_leave(fd, names.pop())
    except OSError:
        pass
    finally:
        os.close(fd)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _enter(name: str, dir_fd: int) -> int | None:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:   # a folder the worker (same uid, not root) made unreadable: it hides nothing
        try:
            os.chmod(name, 0o700, dir_fd=dir_fd)
            return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            return None
    except OSError:
        return None


def _scan(dir_fd: int, on_entry: Callable[[int, os.DirEntry], bool]) -> list[str]:
    subdirs = []
    try:
        with os.scandir(dir_fd) as entries:
            for entry in entries:
                try:
                    if on_entry(dir_fd, entry):
                        subdirs.append(entry.name)
                except OSError:
                    continue
    except OSError:
        pass
    return subdirs


class _Enough(Exception):
    pass


def disk_usage(root: Path, max_entries: int) -> tuple[int, int]:
    """(bytes, entries) under root: allocated blocks (a sparse file counts what it uses), folders included.
    Stops after max_entries + 1 entries, so a million tiny files cannot make one look take long."""
    total = entries = 0

    def add(dir_fd: int, entry: os.DirEntry) -> bool:
        nonlocal total, entries
        entries += 1
        if entries > max_entries:
            raise _Enough()
        total += entry.stat(follow_symlinks=False).st_blocks * 512
        return entry.is_dir(follow_symlinks=False)

    try:
        walk(root, add)
    except _Enough:
        pass
    return total, entries


def remove_tree(root: Path) -> None:
    """Delete root and everything under it, as far as possible; never raises."""
    def unlink_files(dir_fd: int, entry: os.DirEntry) -> bool:
        if entry.is_dir(follow_symlinks=False):
            try:   # so that its entries can be unlinked even if the worker made it 0o500
                os.chmod(entry.name, 0o700, dir_fd=dir_fd)
            except OSError:
                pass
            return True
        os.unlink(entry.name, dir_fd=dir_fd)
        return False

    def rmdir(parent_fd: int, name: str) -> None:
        try:
            os.rmdir(name, dir_fd=parent_fd)
        except OSError:
            pass

    walk(root, unlink_files, rmdir)
    try:
        os.rmdir(root)
    except OSError:
        try:
            os.unlink(root)   # a symlink or file where the folder was
        except OSError:
            pass
