"""The one result object. JSON, Gradescope, PrairieLearn, JUnit, CSV and HTML are renderings of it."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

STATUSES = ("passed", "partial", "failed", "error")


@dataclass
class ItemResult:
    id: str
    name: str
    max_score: float
    score: float = 0.0
    status: str = "error"
    output: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    visibility: str = "visible"
    duration_s: float = 0.0   # wall time of the worker calls this item was scored from
    cpu_s: float = 0.0        # CPU seconds of its costliest worker call (every process and thread of the worker)
    cpu_limit_s: float = 0.0  # the CPU limit that call ran under (grading.yaml: calibrated, else timeout_s)
    graded: bool = False      # False: grading stopped before this item was scored (status is then "error")

    def set(self, fraction: float, output: str, **metrics: Any) -> "ItemResult":
        """Award `fraction` of the points; status follows from it."""
        fraction = min(1.0, max(0.0, fraction))
        self.score = round(self.max_score * fraction, 2)
        self.status = "passed" if fraction >= 1.0 else "partial" if fraction > 0 else "failed"
        self.output, self.graded = output, True
        self.metrics.update(metrics)
        return self

    def error(self, output: str, **metrics: Any) -> "ItemResult":
        self.score, self.status, self.output, self.graded = 0.0, "error", output, True
        self.metrics.update(metrics)
        return self

    def not_graded(self, why: str) -> "ItemResult":
        """Grading stopped before this item was scored: an error that says why, and `graded` stays False."""
        self.score, self.status, self.output, self.graded = 0.0, "error", f"not graded: {why}", False
        return self


@dataclass
class Report:
    score: float
    max_score: float
    profile: str
    device: str
    versions: dict[str, str]
    duration_s: float
    submission: dict[str, Any]
    tests: list[ItemResult]
    sandbox: str = "none"
    sandbox_note: str = ""
    determinism: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)      # for the instructor: suspicious, not a verdict
    images: list[dict[str, str]] = field(default_factory=list)  # {label, png_base64}
    config: dict[str, str] = field(default_factory=dict)
    estimate_note: str = ""
    complete: bool = True
    starved: list[str] = field(default_factory=list)   # items the machine was too busy to run: not graded,
                                                        # never the student's fault; a rerun grades them
    calls: list[dict[str, Any]] = field(default_factory=list)   # each worker start and call: wall and CPU time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        data = dict(data)
        data["tests"] = [ItemResult(**t) for t in data["tests"]]
        return cls(**data)

    def recompute_score(self) -> None:
        self.score = round(sum(t.score for t in self.tests), 2)


def write_atomic(path: str | os.PathLike, content: str | Callable[[BinaryIO], None], mode: int = 0o644) -> None:
    """Write via a temp file in the same folder and rename, so a reader never sees half a file.
    `content` is text, or a function that writes bytes to the open file (e.g. an np.save call). Reports,
    gradebooks and pages are readable by the course team (0644); private files pass mode=0o600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w" if isinstance(content, str) else "wb") as f:
            f.write(content) if isinstance(content, str) else content(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: Report, path: str | os.PathLike) -> None:
    write_atomic(path, json.dumps(report.to_dict(), indent=2, default=str) + "\n")


def read_report(path: str | os.PathLike) -> Report:
    return Report.from_dict(json.loads(Path(path).read_text()))
