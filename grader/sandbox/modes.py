"""Which sandbox runs here: the choice list, whether bubblewrap works, whether root can drop privileges.

`none` is a plain child process (laptops); `process` is python -I, a clean environment, its own session,
rlimits and, when the grader runs as root, the unprivileged SANDBOX_UID; `bwrap` adds bubblewrap's
namespaces; `auto` picks bwrap where it works, else process.
"""
from __future__ import annotations

import fcntl
import functools
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from .reaper import end_processes_of_uid

MODES = ("auto", "none", "process", "bwrap")
SANDBOX_UID = 64123          # an unused uid for student code when the grader runs as root
SANDBOX_UIDS = 256           # graders running at once on one machine (batch --jobs) each take their own
_held_uid_locks: list[int] = []


def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        return subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def interpreter_is_world_readable() -> bool:
    """Can another uid run this Python and import torch? (Not when they live under /root, e.g. pyenv.)"""
    torch_dir = importlib.util.find_spec("torch").submodule_search_locations[0]
    return all(readable_by_everyone(target) for target in (os.path.realpath(sys.executable), torch_dir))


def readable_by_everyone(target: str | os.PathLike) -> bool:
    """May any user read `target` (every folder on its real path searchable by others, itself readable)?"""
    path = Path(os.path.realpath(target))
    try:
        for parent in [*reversed(path.parents), path]:
            mode = parent.stat().st_mode
            if not mode & 0o001 and parent.is_dir() or not mode & 0o004 and parent == path:
                return False
    except OSError:
        return False
    return True


@functools.cache
def sandbox_uid() -> int:
    """This grader process's uid for student code in `process` mode as root: the first of SANDBOX_UID,
    SANDBOX_UID + 1, ... that no other grader on the machine holds (a lock file, held for this process's
    life). The kill sweep and the memory count take every process of the uid as the worker's, so two
    graders (batch --jobs 2) must never share one, and what a dead grader left running as it is ended
    before it is used."""
    folder = uid_lock_folder()
    for uid in range(SANDBOX_UID, SANDBOX_UID + SANDBOX_UIDS):
        fd = os.open(folder / f"{uid}.lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held_uid_locks.append(fd)
        end_processes_of_uid(uid)
        return uid
    raise RuntimeError(f"all {SANDBOX_UIDS} sandbox uids from {SANDBOX_UID} are held by graders running on this "
                       f"machine; run fewer at once")


MACHINE_WIDE = (Path("/run"), Path("/tmp"))   # never TMPDIR: graders with other TMPDIRs must see one another


def uid_lock_folder() -> Path:
    """The folder of sandbox_uid's lock files: one per user of the grader, made private, and refused if someone
    else made it first (a shared /tmp). Only root's graders switch to the sandbox uids, so only theirs must
    share one, in one place for the whole machine whatever each grader's TMPDIR (two graders of one machine
    with other TMPDIRs took the same uid, and each counted, and killed, the other's workers); another user
    gets a folder of their own (one folder for all was root's, 0700, after a root run, and broke every later
    run of another user)."""
    uid = os.geteuid()
    if uid == 0:
        base = next((p for p in MACHINE_WIDE if p.is_dir() and os.access(p, os.W_OK)), Path(tempfile.gettempdir()))
        folder = base / "grader-sandbox-uids"
    else:
        folder = Path(tempfile.gettempdir()) / f"grader-sandbox-uids-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise RuntimeError(f"{folder}: expected a private folder (mode 700) of this user (uid {uid}); "
                           f"remove it and grade again")
    return folder


def drops_root(mode: str) -> bool:
    """Does `mode` run student code as SANDBOX_UID (switched by the grader itself, not by bubblewrap)?
    As root, `process` mode always does: never is student code run with the grader's privileges."""
    return mode == "process" and os.geteuid() == 0


def drops_after_imports(mode: str) -> bool:
    """Must the worker switch to SANDBOX_UID itself, once its interpreter and torch are loaded? Only when
    that uid cannot read them (a pyenv under /root, common in containers), so it could not start them."""
    return drops_root(mode) and not interpreter_is_world_readable()


def sandbox_note(mode: str, secrets: dict[str, str] | None = None) -> str:
    """What the sandbox does and does not do here, for the report. `secrets` ({path: what it holds}) are
    files student code must not read; in `process` mode those every user may read are named."""
    note = _mode_note(mode)
    exposed = [f"{path} ({what})" for path, what in (secrets or {}).items()
               if drops_root(mode) and readable_by_everyone(path)]
    if exposed:
        note += (f". WARNING: student code can read {'; '.join(exposed)}: every user may read them and process "
                 f"mode does not hide files. Use --sandbox bwrap, or make them unreadable to other users "
                 f"(chmod o-rwx)")
    return note


def _mode_note(mode: str) -> str:
    if mode == "bwrap":
        return f"bubblewrap: no network, own PID/user namespace (uid {SANDBOX_UID}), read-only system, rlimits"
    if mode == "process":
        if os.geteuid() != 0:
            return "isolated process (python -I, clean env, own session, rlimits) as the grader's own user"
        if interpreter_is_world_readable():
            return f"isolated process (python -I, clean env, own session, rlimits) as uid {sandbox_uid()}"
        return (f"isolated process (python -I, clean env, own session, rlimits) as uid {sandbox_uid()}, switched "
                f"by the worker after loading Python and torch, which that uid cannot read; no mount isolation: "
                f"files readable by every user are readable by student code (bubblewrap hides them)")
    return "none: student code runs as a plain child process with your permissions (fine on your own laptop)"


def resolve_mode(requested: str) -> str:
    if requested not in MODES:
        raise ValueError(f"unknown sandbox {requested!r}: expected one of {', '.join(MODES)}")
    if requested == "auto":
        if bwrap_works():
            return "bwrap"
        if os.geteuid() == 0:
            return "process"   # as root, process mode switches student code to SANDBOX_UID
        raise RuntimeError("--sandbox auto: cannot isolate student code from the grader here (bubblewrap does not "
                           "work and the grader is not root, so it cannot switch to another uid). Install the "
                           "`bubblewrap` package, run as root, or pass --sandbox process (student code runs as "
                           "your user) or --sandbox none explicitly")
    if requested == "bwrap" and not bwrap_works():
        raise RuntimeError("--sandbox bwrap: bubblewrap is not installed or cannot create namespaces here "
                           "(install the `bubblewrap` package, or use --sandbox process)")
    return requested
