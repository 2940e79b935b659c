"""Finding and killing everything a worker started, however it tried to get away.

A worker's descendants are found through /proc parent links. One that double-forks (its parent exits) is
re-parented to the nearest *child subreaper* ancestor, else to init, where no parent link leads back to
us; so the grader process makes itself a subreaper (`become_subreaper()`, once, when it starts its first
worker: it changes the whole process, hence an explicit call and not a side effect of importing or
constructing anything). Orphans then become our own children, which `ProcessTree` counts as the
worker's when they appeared after it started. In `process` mode as root, every process of the sandbox
uid is the worker's too, whatever its parentage (setsid does not change a uid).
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36
_subreaper = False


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux); idempotent. True if it is one."""
    global _subreaper
    if not _subreaper:
        try:
            _subreaper = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            pass
    return _subreaper


def parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    found[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def children(pid: int) -> set[int]:
    return {child for child, parent in parents().items() if parent == pid}


def descendants(root_pid: int, links: dict[int, int] | None = None) -> list[int]:
    """Every live process whose parent chain reaches root_pid (links: a parents() table to reuse)."""
    return sorted(_below({root_pid}, parents() if links is None else links))


def _below(roots: set[int], links: dict[int, int]) -> set[int]:
    found, frontier = set(), set(roots)
    while frontier:
        frontier = {pid for pid, ppid in links.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Exists and is not a zombie (a zombie is already dead: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


_live_roots: set[int] = set()   # the root of every ProcessTree of this process not yet killed
# pid -> root of the tree whose scan saw it first, until the process is gone from /proc. A worker's process
# that its tree has seen stays that tree's after its parent dies and it is re-parented to us: a killed
# worker's child (or, in bwrap, the sandbox's inner processes while the outer bwrap dies first) is otherwise
# a fresh orphan of ours that the other group's tree takes for its own, with the memory and CPU it holds.
_claimed: dict[int, int] = {}
# Held while a worker is spawned and its ProcessTree registered, and while a tree lists its members: a grade
# runs item groups side by side, and a worker just spawned is our child before it is in _live_roots.
SPAWNING = threading.RLock()


@dataclass
class ProcessTree:
    """A worker (root) and everything it started. Build it with `ours_before = children(os.getpid())` taken
    just before the worker was spawned: our children from before are not the worker's. Another live
    worker of this process (and what it started) is never this one's, though it too is our child and runs
    as the same uid: the memory count and the kill sweep would otherwise take it for this worker's."""
    root: int
    ours_before: frozenset[int]
    uid: int | None = None   # a uid that only the sandbox uses: all its processes belong to the worker

    def __post_init__(self):
        _live_roots.add(self.root)

    def members(self) -> set[int]:
        with SPAWNING:
            links, me = parents(), os.getpid()
            others = set(_live_roots) - {self.root}
            for gone in [pid for pid in _claimed if pid not in links]:
                del _claimed[gone]
            theirs = {pid for pid, root in _claimed.items() if root != self.root} | others
            orphans = {pid for pid, ppid in links.items() if ppid == me and pid not in self.ours_before} - theirs
            pids = {self.root} | orphans
            pids |= _below(pids, links)
            if self.uid is not None:
                pids |= set(pids_of_uid(self.uid)) - theirs - _below(theirs, links)
            _claimed.update(dict.fromkeys(pids, self.root))
        return pids

    def kill(self, limit_s: float = 5.0) -> None:
        """SIGKILL every member (setsid'd or not) until none is left, reaping as we go."""
        # Freeze, then kill, and again until nothing is left: a process that keeps forking (and its
        # parent exiting) cannot outrun this, because a stopped process forks no more.
        deadline = time.monotonic() + limit_s
        while True:
            victims = {pid for pid in self.members() if alive(pid)}
            if not victims or time.monotonic() > deadline:
                break
            # Whole process groups first: the kernel signals every member at once and a fork in flight
            # fails, so a process that forks and exits faster than we scan /proc dies with its group.
            # The worker runs in its own session, so none of these groups can be ours.
            groups = {self.root}
            for pid in victims:
                try:
                    groups.add(os.getpgid(pid))
                except OSError:
                    pass
            groups.discard(os.getpgrp())
            for group in groups:
                _signal(os.killpg, group, signal.SIGKILL)
            _stop_then_kill(victims)
            self.reap()
            time.sleep(0.02)

    def forget(self) -> None:
        """The worker is dead and reaped: other trees may stop excluding it. (Before it is reaped, its zombie
        is our child, and another worker's tree would take it, and the CPU time it holds, for an orphan.)"""
        _live_roots.discard(self.root)

    def reap(self) -> None:
        """Collect our exited children that are the worker's orphans (the root itself is its Popen's)."""
        for pid in children(os.getpid()):
            if pid in self.ours_before or pid == self.root:
                continue
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def end_processes_of_uid(uid: int, limit_s: float = 5.0) -> None:
    """Stop and kill every process running as `uid`, until none is left. For a sandbox uid whose lock was
    just taken: what still runs as it was left by a grader that died without stopping its workers (killed
    with SIGKILL: by the OOM killer, a cluster scheduler, or Ray ending a dead worker's children), and the
    new grader would count it as its own worker's, against its items' CPU and memory limits."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        victims = [pid for pid in pids_of_uid(uid) if alive(pid)]
        if not victims:
            return
        _stop_then_kill(victims)
        time.sleep(0.02)


def _stop_then_kill(pids) -> None:
    """SIGSTOP all, then SIGKILL all: a stopped process forks no more, so none can outrun the scan."""
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            _signal(os.kill, pid, sig)


def _signal(send, target: int, sig: signal.Signals) -> None:
    try:
        send(target, sig)
    except OSError:
        pass
