"""Limits enforced from outside the worker, which cannot opt out: its time, its memory, its disk.

Time is counted in CPU seconds of the worker's process tree (cpuclock.py), so the machine's load never
decides a grade. Three ways a call can run out of time, three different verdicts:
- it used more CPU than its limit: the student's (an endless loop, far too much work);
- it sat idle (asleep or blocked, using no CPU and not waiting for one) longer than the limit: the student's;
- the wall-clock backstop passed while it was mostly waiting for a CPU: the machine's ("starved"), never
  charged to the student; batch and the cluster executors retry it like a lost node.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .cpuclock import TreeClock, Usage
from .errors import WorkerFailure
from .limits import Limits

MEMORY_CHECK_EVERY_S = 0.1   # a /proc scan: at most this often while replies stream in
CLOCK_CHECK_EVERY_S = 0.2
DISK_CHECK_EVERY_S = 0.5     # walking the folder costs more
BACKSTOP_FACTOR = 4          # wall backstop = this x (CPU + idle limits) / the CPU share a worker is granted
BACKSTOP_SLACK_S = 60


@dataclass(frozen=True)
class TimeLimit:
    cpu_s: float             # CPU seconds the call may use, all its processes and threads together
    idle_s: float            # seconds it may sit using no CPU and not waiting for one
    wall_s: float            # the backstop, generous: only a starved (or unmeasurable) worker reaches it
    startup: bool = False    # the worker is still importing torch: no student code has run yet

    @classmethod
    def of(cls, cpu_s: float, cpu_share: float, startup: bool = False) -> "TimeLimit":
        """A call limited to `cpu_s` CPU seconds (and as long idle) on a machine that grants each worker
        `cpu_share` of a CPU (a 0.5-CPU container: 0.5)."""
        wall = BACKSTOP_FACTOR * 2 * cpu_s / max(0.05, min(1.0, cpu_share)) + BACKSTOP_SLACK_S
        return cls(cpu_s, cpu_s, wall, startup)

    def failure(self, usage: Usage, cpu_over: bool) -> WorkerFailure | None:
        """The failure `usage` amounts to, if any (`cpu_over`: the CPU limit was passed at two polls in a row,
        so a sum read while a child was being reaped cannot end a call)."""
        if self.startup and (cpu_over or usage.idle_s > self.idle_s or usage.wall_s > self.wall_s):
            return WorkerFailure("starved", f"the grader's worker did not finish starting (importing torch, before "
                                            f"any of your code ran; {usage.words()}): the machine is overloaded "
                                            f"(not your code's fault)")
        if cpu_over:
            return WorkerFailure("timeout", f"your code did not finish within its time limit of {self.cpu_s:g} s of "
                                            f"CPU time (an endless loop, or far too much work for the budget)")
        if usage.idle_s > self.idle_s:
            return WorkerFailure("timeout", f"your code did not finish within its time limit of {self.idle_s:g} s: it "
                                            f"sat idle for {usage.idle_s:.0f} s, using no CPU (asleep or blocked: "
                                            f"time.sleep, input(), a lock or a deadlock)")
        if usage.wall_s > self.wall_s:
            if usage.starved_s >= usage.idle_s:
                return WorkerFailure("starved", f"the machine was too busy to finish grading this item; nothing "
                                                f"is wrong with your code ({usage.words()}, within a CPU limit of "
                                                f"{self.cpu_s:g} s)")
            return WorkerFailure("timeout", f"your code did not finish within {self.wall_s:.0f} s ({usage.words()})")
        return None


@dataclass
class Watchdog:
    limits: Limits
    members: Callable[[], set[int]]                    # the worker's processes, now (a /proc scan)
    memory_used_mb: Callable[[set[int]], float]        # what those processes hold
    disk_used: Callable[[int], tuple[float, int]]      # (MB, entries) in its folder, looking at most at N+1
    clock: TreeClock
    memory_checked: float = float("-inf")
    disk_checked: float = float("-inf")
    clock_checked: float = float("-inf")
    cpu_over_polls: int = 0

    def start(self) -> None:
        """A new call: its time counts from now."""
        self.clock.start()
        self.cpu_over_polls = 0

    def usage(self) -> Usage:
        return self.clock.poll()

    def check(self, limit: TimeLimit) -> None:
        """Raise the WorkerFailure for the first limit the worker is over, if any."""
        now = time.monotonic()
        clock_due = now - self.clock_checked >= CLOCK_CHECK_EVERY_S
        memory_due = now - self.memory_checked >= MEMORY_CHECK_EVERY_S
        members = self.members() if clock_due or memory_due else set()   # one scan of /proc for both
        if clock_due:
            self.clock_checked = now
            usage = self.clock.poll(members)
            self.cpu_over_polls = self.cpu_over_polls + 1 if usage.cpu_s > limit.cpu_s else 0
            failure = limit.failure(usage, cpu_over=self.cpu_over_polls >= 2)
            if failure is not None:
                raise failure
        if memory_due:
            self.memory_checked = now
            if self.memory_used_mb(members) > self.limits.memory_mb:
                raise WorkerFailure("memory", f"your code used more than the memory limit of "
                                              f"{self.limits.memory_mb} MB")
        if now - self.disk_checked >= DISK_CHECK_EVERY_S:
            self.disk_checked = now
            used, entries = self.disk_used(self.limits.max_files)
            if entries > self.limits.max_files:
                raise WorkerFailure("disk", f"created more than {self.limits.max_files:,} files and folders "
                                            f"(in its folder, /tmp or /dev/shm)")
            if used > self.limits.disk_mb:
                raise WorkerFailure("disk", f"wrote {used:,.0f} MB of files, more than the disk limit of "
                                            f"{self.limits.disk_mb} MB (huge files in out/ or /tmp)")
