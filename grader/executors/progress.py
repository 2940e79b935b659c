"""The cluster driver's progress line: done / running / queued / failed, retries, elapsed and ETA."""
from __future__ import annotations

import time

from ..progress import clock   # h:mm:ss, as every progress line of the grader


class ClusterProgress:
    """On a terminal one line rewritten in place; elsewhere (CI logs, nohup) a line whenever a count changes.
    The ETA extrapolates the rate at which students finished since the driver started."""

    def __init__(self, total: int, stream):
        self.total, self.stream = total, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self.last = None

    def counts(self, tracks) -> dict[str, int]:
        c = {s: 0 for s in ("done", "running", "queued", "failed")}
        for t in tracks:
            c["queued" if t.state in ("new", "submitting") else t.state] += 1
        c["retried"] = sum(t.failures for t in tracks)
        return c

    def line(self, c: dict[str, int]) -> str:
        elapsed = time.monotonic() - self.started
        finished = c["done"] + c["failed"]
        eta = "0:00" if finished == self.total else "?" if not finished else \
            clock(elapsed / finished * (self.total - finished))
        bar = "#" * int(30 * finished / self.total) if self.total else "#" * 30
        return (f"[{bar:<30}] {c['done']}/{self.total} done, {c['running']} running, {c['queued']} queued, "
                f"{c['failed']} failed (infra), {c['retried']} retried | {clock(elapsed)} elapsed, ETA {eta}")

    def update(self, tracks, final: bool = False) -> None:
        c = self.counts(tracks)
        if self.tty:
            self.stream.write("\r" + self.line(c) + ("\n" if final else ""))
        elif c != self.last or final:
            self.stream.write(self.line(c) + "\n")
        self.last = c
        self.stream.flush()
