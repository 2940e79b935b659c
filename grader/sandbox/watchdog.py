"""Limits enforced from outside the worker, which cannot opt out: its deadline, its memory, its disk."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .errors import WorkerFailure
from .limits import Limits

MEMORY_CHECK_EVERY_S = 0.1   # a /proc scan: at most this often while replies stream in
DISK_CHECK_EVERY_S = 0.5     # walking the folder costs more


@dataclass(frozen=True)
class Deadline:
    at: float            # time.monotonic() value
    seconds: float       # the limit as the student's message states it
    startup: bool = False   # the worker is still importing torch: no student code has run yet

    @classmethod
    def after(cls, seconds: float, startup: bool = False) -> "Deadline":
        return cls(time.monotonic() + seconds, seconds, startup)

    def left(self) -> float:
        return self.at - time.monotonic()

    def failure(self) -> WorkerFailure:
        if self.startup:
            return WorkerFailure("timeout", f"the grader's worker did not start within {self.seconds:g} s "
                                            f"(the machine is overloaded; not your code's fault)")
        return WorkerFailure("timeout", f"your code did not finish within its time limit of {self.seconds:g} s "
                                        f"(an endless loop, or far too much work for the budget)")


@dataclass
class Watchdog:
    limits: Limits
    memory_used_mb: Callable[[], float]                # what the worker's processes hold, now
    disk_used: Callable[[int], tuple[float, int]]      # (MB, entries) in its folder, looking at most at N+1
    memory_checked: float = float("-inf")
    disk_checked: float = float("-inf")

    def check(self, deadline: Deadline) -> None:
        """Raise the WorkerFailure for the first limit the worker is over, if any."""
        now = time.monotonic()
        if now >= deadline.at:
            raise deadline.failure()
        if now - self.memory_checked >= MEMORY_CHECK_EVERY_S:
            self.memory_checked = now
            if self.memory_used_mb() > self.limits.memory_mb:
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
