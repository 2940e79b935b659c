"""What a worker's time limit counts: CPU seconds of its whole process tree, and how long it sat idle.

Wall seconds depend on the machine (other load, a 0.5-CPU container, a laptop's browser); CPU seconds of
the same work barely do, so a limit in CPU seconds gives a correct submission the same grade everywhere.
Read from /proc, for every process of the tree (reaper.ProcessTree):

- CPU: utime + stime (all its threads, exited ones included) + cutime + cstime (children it has reaped),
  so a descendant that already exited still counts, in its parent's or, as a zombie, in its own entry.
- Activity: per thread, /proc/PID/task/TID/schedstat gives the time spent running and waiting on a run
  queue (a cgroup's CPU throttling counts as waiting: measured, cpu.cfs_quota_us at half a CPU). A tree
  none of whose threads ran or waited for a CPU during an interval was *idle* then: asleep or blocked.
  Where schedstat is missing, a thread in state R at a poll stands for the interval.

So a worker is either using CPU (the CPU limit ends an endless loop), idle (the idle limit ends a sleep or
a deadlock), or runnable but not running: starved by the machine, which is never the student's fault.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and of the children it reaped; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / TICKS   # utime stime cutime cstime
    except (OSError, IndexError, ValueError):
        return 0.0


def thread_activity(pid: int) -> dict[int, float | None]:
    """tid -> seconds it has spent running or waiting for a CPU (schedstat). Where schedstat is missing:
    None for a thread that is runnable now (state R), and the thread is left out otherwise."""
    found: dict[int, float | None] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                run_ns, wait_ns = f.read().split()[:2]
            found[int(tid)] = (int(run_ns) + int(wait_ns)) / 1e9
        except FileNotFoundError:
            if _state(pid, tid) == "R":
                found[int(tid)] = None
        except (OSError, ValueError):
            continue
    return found


def _state(pid: int, tid: str) -> str:
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


@dataclass
class Usage:
    """One worker call's consumption so far."""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    idle_s: float = 0.0      # no thread of the tree running or waiting for a CPU
    active_s: float = 0.0    # at least one thread running or waiting for a CPU

    @property
    def starved_s(self) -> float:
        """Time it was ready to run but got no CPU (other load, a CPU quota): active time not spent on CPU."""
        return max(0.0, self.active_s - self.cpu_s)

    def words(self) -> str:
        return (f"in {self.wall_s:.0f} s it got {self.cpu_s:.1f} s of CPU time, waited {self.starved_s:.0f} s "
                f"for a CPU and was idle {self.idle_s:.0f} s")


@dataclass
class TreeClock:
    """Usage of a process tree since `start()`; `poll()` as often as the watchdog looks (each poll reads
    /proc once per process and thread of the tree)."""
    members: Callable[[], Iterable[int]]
    usage: Usage = field(default_factory=Usage)
    _cpu0: float = 0.0
    _t0: float = 0.0
    _last_wall: float = 0.0
    _threads: dict[tuple[int, int], float | None] = field(default_factory=dict)

    def start(self) -> None:
        pids = list(self.members())
        self._cpu0 = sum(cpu_seconds(p) for p in pids)
        self._t0 = self._last_wall = time.monotonic()
        self._threads = self._activity(pids)
        self.usage = Usage()

    def poll(self, members: Iterable[int] | None = None) -> Usage:
        """Usage so far; `members`: the tree's processes if just listed (listing them scans /proc)."""
        pids = list(self.members() if members is None else members)
        now = time.monotonic()
        interval, self._last_wall = now - self._last_wall, now
        cpu = sum(cpu_seconds(p) for p in pids) - self._cpu0
        threads = self._activity(pids)
        busiest = 0.0   # the most active thread's running + waiting time in this interval
        for key, seconds in threads.items():
            before = self._threads.get(key)
            if seconds is None:       # no schedstat: runnable at this poll stands for the interval
                busiest = interval
            elif before is not None:
                busiest = max(busiest, seconds - before)
            else:                     # a thread born during the interval: all its time is in it
                busiest = max(busiest, seconds)
        self._threads = threads
        active = min(interval, busiest)
        u = self.usage
        # CPU time never goes backwards: a child being reaped between two reads can make a sum dip
        self.usage = Usage(wall_s=now - self._t0, cpu_s=max(u.cpu_s, cpu), idle_s=u.idle_s + interval - active,
                           active_s=u.active_s + active)
        return self.usage

    @staticmethod
    def _activity(pids: list[int]) -> dict[tuple[int, int], float | None]:
        return {(pid, tid): seconds for pid in pids for tid, seconds in thread_activity(pid).items()}
