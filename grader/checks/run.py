"""What a group's scoring code works with: one `Run` per item group, around one worker session.

`run.call(evidence, ...)` sends a task to the worker on behalf of the items scored from it (grader/items.py
says which); if the worker fails, those items are marked `error` with the reason, and the call returns None.
`run.fresh_session()` starts another worker, in a new process and folder, for what must not share anything
with the first (evaluating a trained model); `run.static(file)` is the trusted static check of a submitted file.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Config
from ..items import owners_of
from ..data import Datasets
from ..result import ItemResult
from ..rubric_keys import TRAIN
from ..sandbox import WorkerFailure, WorkerSession
from ..sandbox.cpuclock import Usage
from ..sandbox.errors import MACHINES_FAULT
from ..staticcheck import FileCheck, check_file
from .replies import reply_problem

TRAIN_SEED = 0


@dataclass
class Run:
    config: Config
    data: Datasets
    results: dict[str, ItemResult]   # the items of this group that the rubric grades
    session: WorkerSession
    progress: Callable[[str, int, int], None]
    secret: np.random.Generator      # unseeded: orders the student cannot predict
    seed: int = TRAIN_SEED
    submission: Path | None = None                              # the folder as handed in (read, never run)
    new_session: Callable[[], WorkerSession] | None = None      # a worker sharing nothing with `session`
    flags: list[str] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)
    checked: dict[str, FileCheck | None] = field(default_factory=dict)
    starved: dict[str, str] = field(default_factory=dict)   # item -> why the machine, not the code, stopped it

    def static(self, name: str) -> FileCheck | None:
        """The static check of the submitted file `name` (None if there is no such file)."""
        if name not in self.checked:
            self.checked[name] = check_file(self.submission, name) if self.submission else None
        return self.checked[name]

    def fresh_session(self) -> WorkerSession:
        """A new worker; the group's own is ended first (it restarts if called again). One worker at a time:
        an idle one holds its memory, which a second worker's limit would count (the sandbox uid's processes
        and the grader's re-parented children are all taken to be the running worker's)."""
        if self.new_session is None:
            raise RuntimeError("this Run was made without new_session: the orchestrator must pass one")
        self.session.stop_worker()
        return self.new_session()

    def wants(self, evidence: str) -> bool:
        return bool(self.owners(evidence))

    def owners(self, evidence: str) -> tuple[str, ...]:
        return tuple(i for i in owners_of(evidence) if i in self.results)

    def device(self) -> str:
        return "cuda" if self.session.limits.use_cuda else "cpu"

    def call(self, evidence: str, task: str | None = None, session: WorkerSession | None = None,
             **params) -> dict | None:
        """Run worker `task` (default: `evidence`) for the items scored from `evidence` (in `session`, default
        the group's); on failure mark them `error` with the reason and return None."""
        owners = self.owners(evidence)
        session = session or self.session
        cpu_limit = max(self.config.item(i).cpu_limit_s for i in owners)
        started = time.monotonic()
        try:
            label = ", ".join(owners)   # what a person watching sees: the items, not the worker's task
            reply = session.call(task or evidence, cpu_limit,
                                 on_progress=lambda done, total: self.progress(label, done, total), **params)
        except WorkerFailure as failure:
            if failure.kind in MACHINES_FAULT:   # not the student's: the item is graded again, or left ungraded
                self.starved.update({i: str(failure) for i in owners})
                return None
            if failure.kind == "protocol":   # a forged or malformed reply is intent, not an accident
                self.flags.append(f"{', '.join(owners)}: {failure}")
            self.fail(owners, worker_failure_text(failure), failure=failure.kind)
            return None
        finally:
            self.account(owners, time.monotonic() - started, session.last_usage, cpu_limit)
        if reply.get("tampered"):
            self.flags.append(f"{', '.join(owners)}: {str(reply.get('error'))[:300]}")
        if not reply.get("ok"):
            self.fail(owners, with_printed(str(reply.get("error")), reply.get("printed", "")))
            return None
        result = reply.get("result")
        problem = reply_problem(task or evidence, result)
        if problem:   # only student code can make the worker reply this: intent, like a forged reply
            self.flags.append(f"{', '.join(owners)}: malformed worker reply ({problem})")
            self.fail(owners, f"the grader's worker sent a malformed reply ({problem}); nothing to score. Code that "
                              f"writes to the grader's reply channel is not allowed.", failure="protocol")
            return None
        result["_printed"] = reply.get("printed", "")
        return result

    def account(self, owners, wall_s: float, usage: Usage, cpu_limit: float) -> None:
        """Each item's wall time (all its calls) and the CPU time of its costliest call, with that call's limit."""
        for item_id in owners:
            item = self.results[item_id]
            item.duration_s = round(item.duration_s + wall_s, 3)
            if usage.cpu_s >= item.cpu_s:
                item.cpu_s, item.cpu_limit_s = round(usage.cpu_s, 2), cpu_limit

    def fail(self, owners, output: str, **metrics) -> None:
        for item_id in owners:
            self.results[item_id].error(output, **metrics)

    def array(self, rel, evidence: str, shape=None, dtype=None, session: WorkerSession | None = None
              ) -> np.ndarray | None:
        """A worker output array, validated; None (and the owners marked `error`) if it is not what we asked."""
        try:
            arr = (session or self.session).read_output(rel)
        except WorkerFailure as failure:
            self.fail(self.owners(evidence), str(failure))
            return None
        if (shape is not None and arr.shape != shape) or (dtype is not None and arr.dtype != dtype):
            self.fail(self.owners(evidence), f"output array has shape {arr.shape} and dtype {arr.dtype}, "
                                             f"expected {shape} {dtype}")
            return None
        return arr


def worker_failure_text(failure: WorkerFailure) -> str:
    return with_printed(f"Grading your code stopped: {failure}", failure.output)


def with_printed(text: str, printed: str) -> str:
    printed = (printed or "").strip()
    return f"{text}\n--- what your code printed (tail) ---\n{printed}" if printed else text


def score_trained(item: ItemResult, credit: float, reply: dict, text: str, hint: str, **metrics) -> None:
    """A trained item: the measurement, and when short of full credit a hint and what the code printed."""
    if credit < 1:
        text = with_printed(f"{text} {hint}", reply["_printed"])
    item.set(credit, text, trainable_params=reply.get("trainable"), losses=reply.get("losses"), **metrics)


def train_value(item, name: str):
    """One training setting of `item`: the rubric's value, else its declared default (grader/rubric_keys.py)."""
    return item.train.get(name, TRAIN.key(name).default)


def training(item) -> dict:
    """The training budget of a trained item, as the worker's training loops take it."""
    return {"steps": int(item.train["steps"]), "batch_size": int(train_value(item, "batch_size")),
            "lr": float(train_value(item, "lr")), "optimizer": str(train_value(item, "optimizer")),
            "schedule": str(train_value(item, "schedule"))}
