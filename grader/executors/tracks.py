"""One student's record on a cluster: its attempts, its job, its state, and how that reads in the manifest.

The driver (driver.py) moves a Track through `new` -> `submitting` -> `queued` -> `running` -> `done`, or
back to `new` after an infrastructure failure, or to `failed` (infra_error) when the retries are spent.
Every change is written to the manifest as `Track.entry`, and a re-run rebuilds the Track from it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

IN_FLIGHT = ("submitting", "queued", "running")   # a job the scheduler may still have
RESUMABLE = ("new", *IN_FLIGHT)                    # "new": waiting to be resubmitted after a failure


def read_status(folder: Path) -> dict:
    """task.json as plain JSON (never anything a task pickled); {} when missing or unreadable."""
    try:
        data = json.loads((folder / "task.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("attempt"), int) else {}


def clock(t: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t)) if t else ""


@dataclass
class Track:
    job: object                 # batch.Job
    attempt: int = 0            # numbers this student's attempts across runs (report.attempt-N.json)
    failures: int = 0
    job_id: str = ""
    state: str = "new"          # new | submitting | queued | running | done | failed
    batch: str = ""             # the array's job name, and this student's index in it
    index: int = -1
    history: list = field(default_factory=list)   # one {attempt, job_id, reason} per infrastructure failure
    ended_seen: float | None = None
    submitted: float = 0.0      # epoch seconds of this attempt's submission
    result: dict = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.state not in ("done", "failed")

    @classmethod
    def resume(cls, job, prior: dict, executor: str) -> "Track":
        """From the manifest entry of an earlier run: the same submission still on the same cluster keeps
        its job (to adopt), attempts and failures; anything else starts afresh, numbering attempts on."""
        t = cls(job, attempt=int(prior.get("attempt") or 0))
        if prior.get("key") == job.key and prior.get("executor") == executor and not prior.get("final") \
                and prior.get("state") in RESUMABLE:
            t.failures, t.job_id, t.history = int(prior.get("failures") or 0), prior.get("job_id") or "", \
                list(prior.get("history") or [])
            t.state, t.batch, t.index = prior["state"], prior.get("batch", ""), int(prior.get("index", -1))
            t.submitted = float(prior.get("submitted") or 0.0)
        return t

    def entry(self, executor: str) -> dict:
        """The manifest entry; batch.py's rows read `final`, `report` and `error` from it."""
        base = {"key": self.job.key, "folder": self.job.folder.name, "executor": executor, "job_id": self.job_id,
                "attempt": self.attempt, "failures": self.failures, "history": self.history,
                "submitted": self.submitted}
        if self.state == "done":
            return {**base, **self.result, "final": True, "report": True, "error": "", "exit_code": 0, "state": "done"}
        if self.state == "failed":
            reason = self.history[-1]["reason"] if self.history else "unknown"
            return {**base, "final": False, "report": False, "exit_code": None, "state": "failed",
                    "error": f"infra_error: {reason} (tried {self.failures} times on {executor}; "
                             "rerun the same command to try again)"}
        where = f" as job {self.job_id}" if self.job_id else ""
        return {**base, "final": False, "report": False, "exit_code": None, "state": self.state,
                "batch": self.batch, "index": self.index,
                "error": f"not graded yet: {self.state} on {executor}{where}; rerun the same command to collect it"}
