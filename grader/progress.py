"""What a person watching a grade sees: progress per item with an ETA, and the final score table.

    cnn.accuracy             [##########..........] 120/400 steps   0:14 elapsed, ETA 0:33

On a terminal one line is redrawn; elsewhere (CI logs, LMS containers) a line is printed per quarter. Kept
here rather than taken from tqdm: the grading process stays free of optional dependencies, and what it
needs (a label, counts, an ETA, plain lines when not on a terminal) is these few lines.
"""
from __future__ import annotations

import sys
import threading
import time


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class ProgressPrinter:
    """Called as printer(label, done, total) by the orchestrator while workers report progress. Item groups
    run side by side (from several threads): on a terminal one line shows every running item; elsewhere a
    line is printed per item per quarter."""

    def __init__(self, stream=None, tty: bool | None = None, write=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.write = write or self._write
        self.running: dict[str, list] = {}   # label -> [started, quarter, done, total]
        self.lock = threading.Lock()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def line(self, label: str, done: int, total: int) -> str:
        fraction = min(1.0, done / max(total, 1))
        elapsed = time.monotonic() - self.running[label][0]
        eta = clock(elapsed / done * (total - done)) if 0 < done < total else "0:00" if done >= total else "?"
        return (f"  {label:<24} [{'#' * int(20 * fraction):<20}] {done}/{total}   "
                f"{clock(elapsed)} elapsed, ETA {eta}")

    def __call__(self, label: str, done: int, total: int) -> None:
        with self.lock:
            state = self.running.setdefault(label, [time.monotonic(), -1, 0, total])
            state[2:] = [done, total]
            if self.tty:
                self._redraw(label, done >= total)
            elif (quarter := int(4 * done / max(total, 1))) != state[1]:
                state[1] = quarter
                self.write(self.line(label, done, total) + "\n")
            if done >= total:
                del self.running[label]

    def _redraw(self, label: str, finished: bool) -> None:
        if finished:   # its last line stays on screen; the others go on below it
            self.write("\r\033[K" + self.line(label, *self.running[label][2:]) + "\n")
            others = [k for k in self.running if k != label]
        else:
            others = list(self.running)
        if others:
            self.write("\r\033[K" + " | ".join(self.line(k, *self.running[k][2:]).strip() for k in others))


def score_table(report) -> str:
    lines = [f"{'item':<24} {'score':>11}  {'status':<8} {'CPU s used / limit':>18}", "-" * 65]
    for t in report.tests:
        cpu = f"{t.cpu_s:.1f} / {t.cpu_limit_s:g}" if t.cpu_limit_s else ""
        lines.append(f"{t.id:<24} {t.score:>5g}/{t.max_score:<5g}  {t.status:<8} {cpu:>18}")
    lines += ["-" * 65, f"Score: {report.score:g}/{report.max_score:g}   (profile {report.profile}, "
              f"device {report.device}, sandbox {report.sandbox}, {report.duration_s:.0f} s)"]
    if report.starved:
        lines.append(f"Not graded, the machine was too busy (not your code's fault; grade again): "
                     f"{', '.join(report.starved)}")
    if report.estimate_note:
        lines.append(report.estimate_note)
    if report.sandbox_note:
        lines.append(f"Sandbox: {report.sandbox_note}")
    return "\n".join(lines)
