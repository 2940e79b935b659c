"""What a person watching a grade sees: progress per item with an ETA, and the final score table.

    cnn.accuracy             [##########..........] 120/400 steps   0:14 elapsed, ETA 0:33

On a terminal one line is redrawn; elsewhere (CI logs, LMS containers) a line is printed per quarter. Kept
here rather than taken from tqdm: the grading process stays free of optional dependencies, and what it
needs (a label, counts, an ETA, plain lines when not on a terminal) is these few lines.
"""
from __future__ import annotations

import sys
import time


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class ProgressPrinter:
    """Called as printer(label, done, total) by the orchestrator while a worker reports progress."""

    def __init__(self, stream=None, tty: bool | None = None, write=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.write = write or self._write
        self.label, self.started, self.quarter = None, 0.0, -1

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def line(self, label: str, done: int, total: int) -> str:
        fraction = min(1.0, done / max(total, 1))
        elapsed = time.monotonic() - self.started
        eta = clock(elapsed / done * (total - done)) if 0 < done < total else "0:00" if done >= total else "?"
        return (f"  {label:<24} [{'#' * int(20 * fraction):<20}] {done}/{total}   "
                f"{clock(elapsed)} elapsed, ETA {eta}")

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != self.label:
            if self.tty and self.label is not None:
                self.write("\n")
            self.label, self.started, self.quarter = label, time.monotonic(), -1
        if self.tty:
            self.write("\r" + self.line(label, done, total) + ("\n" if done >= total else ""))
            if done >= total:
                self.label = None
        elif (quarter := int(4 * done / max(total, 1))) != self.quarter:
            self.quarter = quarter
            self.write(self.line(label, done, total) + "\n")


def score_table(report) -> str:
    lines = [f"{'item':<24} {'score':>11}  status", "-" * 46]
    for t in report.tests:
        lines.append(f"{t.id:<24} {t.score:>5g}/{t.max_score:<5g}  {t.status}")
    lines += ["-" * 46, f"Score: {report.score:g}/{report.max_score:g}   (profile {report.profile}, "
              f"device {report.device}, sandbox {report.sandbox}, {report.duration_s:.0f} s)"]
    if report.estimate_note:
        lines.append(report.estimate_note)
    if report.sandbox_note:
        lines.append(f"Sandbox: {report.sandbox_note}")
    return "\n".join(lines)
