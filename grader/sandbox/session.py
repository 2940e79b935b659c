"""WorkerSession: one worker process at a time serving the tasks of one item group.

It composes the parts: a Workspace (the private folder), launch.spawn (the process), a ReplyChannel (the
token protocol), a Watchdog (deadline, memory, disk) and a ProcessTree (killing whatever it started).
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Callable

from . import launch
from .channel import ChannelClosed, ReplyChannel
from .errors import WorkerFailure, death
from .limits import Limits
from .memory import memory_bytes
from .modes import drops_after_imports, drops_root, sandbox_uid
from .output import OutputTail
from .program import WorkerProgram, default_program
from .reaper import SPAWNING, ProcessTree, become_subreaper, children
from .cpuclock import TreeClock, Usage
from .watchdog import TimeLimit, Watchdog
from .workspace import Workspace

POLL_S = 0.2   # how often the watchdog looks while waiting for a reply


class WorkerSession:
    """`call()` sends a task to the worker and waits for its reply. After a WorkerFailure the process is
    gone; the next `call()` starts a fresh one, so a crash in one task costs that task only."""

    def __init__(self, submission: Path, mode: str, limits: Limits, program: WorkerProgram | None = None,
                 stopped: threading.Event | None = None):
        self.mode, self.limits = mode, limits
        self.stopped = stopped or threading.Event()   # set by another thread: start no worker, kill the one here
        self.program = program or default_program()
        self.workspace = Workspace(Path(submission), self.program)
        self.dir = self.workspace.root
        self.drop_to = sandbox_uid() if drops_root(mode) else None
        self.drop_late = drops_after_imports(mode)
        self.folder_device = os.stat(self.dir).st_dev
        self.next_id = 0
        self.proc: subprocess.Popen | None = None
        self.last_usage = Usage()
        self.log: list[dict] = []   # one entry per worker start and per call: what the time went to

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write_input(self, name: str, array) -> str:
        return self.workspace.write_input(name, array)

    def read_output(self, rel):
        return self.workspace.read_output(rel)

    # ------------------------------------------------------------ process start
    def start(self) -> None:
        if self.proc is not None:
            return
        become_subreaper()   # before the first worker can leave orphans (see reaper.py)
        if self.drop_to is not None:
            self.workspace.hand_over(self.drop_to)
        with SPAWNING:   # no other session sees this worker as an orphan of its own before it is registered
            if self.stopped.is_set():
                raise WorkerFailure("crash", "grading was stopped before this worker started")
            ours_before = frozenset(children(os.getpid()))
            self.proc, read_fd = launch.spawn(self.mode, self.dir, self.program, self.limits, self.drop_to,
                                              self.drop_late)
            self.tree = ProcessTree(self.proc.pid, ours_before, self.drop_to)
        self.channel = ReplyChannel(read_fd)
        self.output = OutputTail(self.proc.stdout, self.limits.output_kb * 1024)
        self.watchdog = Watchdog(self.limits, self.tree.members, self.memory_used_mb, self.workspace.disk_usage,
                                 TreeClock(self.tree.members))
        self.ready = False
        if self.stopped.is_set():   # set while this worker was spawned: Sessions.stop_all found no process here yet
            self.stop_worker()
            raise WorkerFailure("crash", "grading was stopped while this worker started")
        self.channel.greet(self.proc.stdin)

    def memory_used_mb(self, members: set[int]) -> float:
        """All the memory of the worker's processes `members`, memfds and tmpfs files included (memory.py);
        files in its own folder are the disk cap's."""
        return memory_bytes(members, exclude_device=self.folder_device) / 2**20

    # ------------------------------------------------------------ one task
    def call(self, task: str, cpu_limit_s: float, on_progress: Callable[[int, int], None] | None = None,
             **params) -> dict:
        """Run `task` in the worker, within `cpu_limit_s` CPU seconds (watchdog.py); return its reply (with
        what it printed under "printed"), or raise WorkerFailure, after which the worker is dead and the next
        call starts a new one. `last_usage` is what the call used, either way."""
        self.start()
        mark = self.output.mark()
        try:
            message = self._call(task, cpu_limit_s, on_progress, params)
        except WorkerFailure as failure:
            failure.output = self.output.since(mark)
            self.last_usage = self._record(task, self.watchdog.usage())
            self.stop_worker()
            raise
        self.last_usage = self._record(task, self.watchdog.usage())
        message["printed"] = self.output.since(mark)
        return message

    def _call(self, task: str, cpu_limit_s: float, on_progress, params: dict) -> dict:
        if not self.ready:   # the worker says when it has imported torch; only then does the item's clock start
            self.watchdog.start()
            startup = TimeLimit.of(self.limits.startup_cpu_s, self.limits.cpu_share, startup=True)
            while not self._next_message(startup).get("ready"):
                pass
            self.ready = True
            self._record("worker start", self.watchdog.usage())
        self.next_id += 1
        request = {"id": self.next_id, "task": task, **params}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            raise self._died() from None
        limit = TimeLimit.of(cpu_limit_s, self.limits.cpu_share)
        self.watchdog.start()
        while True:
            message = self._next_message(limit)
            if message.get("id") != self.next_id:
                continue
            if "progress" in message:
                if on_progress and isinstance(message["progress"], list) and len(message["progress"]) == 2:
                    on_progress(*message["progress"])
                continue
            return message

    def _record(self, what: str, usage: Usage) -> Usage:
        self.log.append({"call": what, "wall_s": round(usage.wall_s, 3), "cpu_s": round(usage.cpu_s, 2),
                         "waited_for_cpu_s": round(usage.starved_s, 2), "idle_s": round(usage.idle_s, 2)})
        return usage

    def _next_message(self, limit: TimeLimit) -> dict:
        while (message := self.channel.take()) is None:
            self.watchdog.check(limit)
            try:
                self.channel.fill(POLL_S)
            except ChannelClosed:
                raise self._died() from None
        return message

    def _died(self) -> WorkerFailure:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return death(code, via_bwrap=self.mode == "bwrap")

    # ------------------------------------------------------------ teardown
    def kill(self) -> None:
        """SIGKILL the worker and everything it started (setsid'd or not), then reap. Another thread may call
        this (an interrupted grade ends every worker at once) while the session's own thread ends its worker."""
        proc = self.proc
        if proc is None:
            return
        self.tree.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.tree.reap()
        self.tree.forget()

    def stop_worker(self) -> None:
        """End the worker (its folder stays); the next call starts a new one."""
        if self.proc is None:
            return
        self.kill()
        self.channel.close()
        try:   # stdout is the output thread's: it closes it at end of file
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc = None

    def close(self) -> None:
        self.stop_worker()   # nothing to flush in a worker: no grace period, just kill
        self.workspace.remove()
