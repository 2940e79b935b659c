"""What one cluster task runs on a node: the same `python -m grader grade` command as the local executor.

This module is shipped to the node by value (cloudpickle), so it imports the standard library only: the
node needs the interpreter and the grader's files, not this package on its import path.

The driver trusts nothing the task returns (submitit pickles return values, Ray serializes them; the driver
never reads either). The task's only outputs are files in the student's folder on the shared filesystem:

* `report.json`: the grader writes `report.attempt-N.json`; it is renamed to `report.json` only when the
  grader exited 0, so an attempt that was killed (node lost, scancel, preemption) never leaves a report that
  looks final, and a late zombie attempt cannot overwrite a newer one's;
* `task.json`: {attempt, state: running|finished|interrupted, exit_code, host, job_id, ...}, rewritten
  atomically at start and at the end; the driver reads it as JSON to decide done vs infrastructure failure;
* `task.log`: one appended line per attempt start (a human-readable history; the tests count duplicates);
* `grade.log`: the grader's own output.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

KILL_GRACE_S = 30.0


@dataclass
class TaskSpec:
    student_id: str
    folder: str              # the student's folder in the out-dir (shared filesystem)
    argv: list[str]          # the grade command; its --out is this attempt's report file
    attempt: int
    watchdog_s: float        # the grader is stopped after this (an infrastructure failure: retried)
    cwd: str
    env: dict[str, str] = field(default_factory=dict)   # on top of the node's environment

    def report_for_attempt(self) -> Path:
        return Path(self.folder) / f"report.attempt-{self.attempt}.json"


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _scheduler_job_id() -> str:
    array = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array[0]}_{array[1]}" if all(array) else os.environ.get("SLURM_JOB_ID", "")


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def _node_env(extra: dict[str, str]) -> dict[str, str]:
    """The node's environment plus the driver's variables; `$TMPDIR` and the like expand here, on the node."""
    return {**os.environ, **{k: os.path.expandvars(v) for k, v in extra.items()}}


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this task's process dies (a Ray worker killed with SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_task(spec: TaskSpec) -> None:
    """Grade one student on this node. Returns nothing on purpose (see the module docstring)."""
    folder = Path(spec.folder)
    status = {"student_id": spec.student_id, "attempt": spec.attempt, "state": "running",
              "host": socket.gethostname(), "pid": os.getpid(), "job_id": _scheduler_job_id(),
              "started": time.time()}
    _write_json(folder / "task.json", status)
    with open(folder / "task.log", "a") as log:
        log.write(f"attempt {spec.attempt} job {status['job_id'] or '-'} host {status['host']} "
                  f"pid {status['pid']} started {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    report = spec.report_for_attempt()
    report.unlink(missing_ok=True)
    proc = None
    try:
        with open(folder / "grade.log", "wb") as out:
            proc = subprocess.Popen(spec.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=spec.cwd, env=_node_env(spec.env), start_new_session=True,
                                    preexec_fn=_die_with_parent)
            try:
                code = proc.wait(timeout=spec.watchdog_s)
            except subprocess.TimeoutExpired:
                _stop(proc)
                status.update(state="interrupted", reason=f"the task's time limit of {spec.watchdog_s:.0f} s")
                return
        if code == 0 and report.is_file():
            os.replace(report, folder / "report.json")
            status.update(state="finished", exit_code=0)
        else:
            status.update(state="interrupted", exit_code=code,
                          reason=f"the grader exited with status {code}" + ("" if report.is_file() else
                                                                            " and wrote no report"))
    except BaseException as exc:   # preemption (submitit raises here), cancellation, a bug in this file
        if proc is not None and proc.poll() is None:
            _stop(proc)
        status.update(state="interrupted", reason=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        status["ended"] = time.time()
        _write_json(folder / "task.json", status)


class GradeTask:
    """The callable submitit runs. `checkpoint` returning None tells submitit not to requeue a preempted
    task itself: the driver sees it end without a finished task.json and resubmits it, counted as a retry."""

    def __call__(self, spec: TaskSpec) -> None:
        run_task(spec)

    def checkpoint(self, spec: TaskSpec) -> None:
        return None


def task_gpus(args, run) -> int:
    """GPUs one grading task asks the scheduler for: the profile's need, unless --task-gpus says otherwise."""
    return int(run.needs_gpu) if args.task_gpus == "auto" else int(args.task_gpus)
