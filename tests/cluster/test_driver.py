"""The cluster driver's bookkeeping, cheaply: a scripted in-memory backend stands in for the scheduler
(the real Slurm and Ray runs are in test_slurm.py / test_ray.py), and task.py runs real subprocesses."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.batch import Job, Manifest
from grader.config import ConfigError
from grader.executors import ClusterRun
from grader.executors.driver import Driver, SchedulerUnavailable
from grader.executors.slurm import array_index, sbatch_parameters
from grader.executors.task import TaskSpec, run_task


class ScriptedBackend:
    """Jobs stay queued until `finish`/`lose` says otherwise; `lose` ends a job without a result."""
    name, chunk_size = "slurm", 3

    def __init__(self):
        self.specs: dict[str, TaskSpec] = {}
        self.queued: set[str] = set()
        self.submits: list[list[str]] = []
        self.names: dict[str, dict[int, str]] = {}
        self.down = False
        self.cancelled: list[str] = []
        self.on_poll = lambda backend: None

    def submit(self, specs, name):
        ids = [f"{len(self.submits) + 1}_{i}" for i in range(len(specs))]
        self.submits.append([s.student_id for s in specs])
        self.specs.update(zip(ids, specs))
        self.queued.update(ids)
        self.names[name] = {i: job_id for i, job_id in enumerate(ids)}
        return ids

    def finish(self, job_id):   # what task.py leaves behind when the grader exits 0
        spec = self.specs[job_id]
        folder = Path(spec.folder)
        (folder / "report.json").write_text("{}")
        (folder / "task.json").write_text(json.dumps({"attempt": spec.attempt, "state": "finished",
                                                      "started": 1.0, "ended": 3.5, "host": "n1"}))
        self.queued.discard(job_id)

    def lose(self, job_id):
        self.queued.discard(job_id)

    def find(self, name):
        return {i: j for i, j in self.names.get(name, {}).items() if j in self.queued}

    def alive(self, job_ids):
        self.on_poll(self)
        if self.down:
            raise SchedulerUnavailable("squeue failed: slurmctld is restarting")
        return {j: "RUNNING" for j in job_ids if j in self.queued}

    def end_reason(self, job_id):
        return f"Slurm ended job {job_id} as NODE_FAIL"

    def cancel(self, job_ids):
        self.cancelled += job_ids
        self.queued.difference_update(job_ids)

    def close(self):
        pass


def make_class(tmp_path, n):
    jobs = []
    for i in range(n):
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        jobs.append(Job(f"s{i}", folder, key=f"key{i}", files={}))
    run = ClusterRun(out_dir=tmp_path, command=lambda job, report: ["grade", str(report)], watchdog_s=60,
                     needs_gpu=False, memory_limit_mb=1000)
    return jobs, run, Manifest(tmp_path / "manifest.json")


def drive(backend, run, manifest, jobs, retries=2):
    return Driver(backend, run, manifest, retries=retries, poll_s=0, stream=io.StringIO(), settle_s=0).run(jobs)


def test_infra_failures_are_retried_then_infra_error_and_chunks_respect_the_array_size(tmp_path):
    jobs, run, manifest = make_class(tmp_path, 7)
    backend = ScriptedBackend()

    def scheduler(b):   # s0's node dies every time; everyone else finishes
        for job_id in list(b.queued):
            (b.lose if b.specs[job_id].student_id == "s0" else b.finish)(job_id)
    backend.on_poll = scheduler
    assert drive(backend, run, manifest, jobs, retries=2) is False
    assert [len(s) for s in backend.submits[:3]] == [3, 3, 1], "7 students in arrays of at most 3"
    assert sum(s.count("s0") for s in backend.submits) == 3, "1 attempt + 2 retries"
    entry = manifest.students["s0"]
    assert entry["error"].startswith("infra_error: Slurm ended job") and "NODE_FAIL" in entry["error"]
    assert entry["final"] is False and entry["failures"] == 3 and entry["attempt"] == 3
    assert all(manifest.students[f"s{i}"]["final"] and manifest.students[f"s{i}"]["attempt"] == 1
               for i in range(1, 7))

    # a re-run tries the infra_error student again (fresh retry budget), and nobody else
    backend.on_poll = lambda b: [b.finish(j) for j in list(b.queued)]
    todo = [j for j in jobs if not manifest.done(j)]
    assert [j.student_id for j in todo] == ["s0"]
    drive(backend, run, manifest, todo)
    assert manifest.students["s0"]["final"] and manifest.students["s0"]["attempt"] == 4


def test_rerun_adopts_queued_jobs_collects_finished_ones_and_finds_a_submission_by_name(tmp_path):
    jobs, run, manifest = make_class(tmp_path, 3)
    backend = ScriptedBackend()
    backend.on_poll = lambda b: (_ for _ in ()).throw(KeyboardInterrupt())   # the driver dies at its first poll
    assert drive(backend, run, manifest, jobs) is True
    assert [e["state"] for e in manifest.students.values()] == ["queued"] * 3
    assert "rerun the same command" in manifest.students["s0"]["error"]

    backend.finish("1_0")                                            # finished while no driver watched
    manifest.students["s2"].update(state="submitting", job_id="")    # as if killed during sbatch
    backend.on_poll = lambda b: [b.finish(j) for j in list(b.queued)]
    drive(backend, run, manifest, jobs)
    assert len(backend.submits) == 1, "nothing was submitted twice"
    assert {s: (e["final"], e["job_id"], e["attempt"]) for s, e in manifest.students.items()} == \
        {"s0": (True, "1_0", 1), "s1": (True, "1_1", 1), "s2": (True, "1_2", 1)}
    assert manifest.students["s0"]["duration_s"] == 2.5 and manifest.students["s0"]["host"] == "n1"


def test_a_silent_scheduler_is_not_read_as_every_job_ended(tmp_path):
    jobs, run, manifest = make_class(tmp_path, 2)
    backend = ScriptedBackend()
    polls = iter(range(100))

    def flaky(b):
        n = next(polls)
        b.down = n < 3
        if n == 4:
            for j in list(b.queued):
                b.finish(j)
    backend.on_poll = flaky
    drive(backend, run, manifest, jobs)
    assert len(backend.submits) == 1 and all(e["failures"] == 0 for e in manifest.students.values())


def test_task_renames_the_report_only_when_the_grader_exits_0(tmp_path):
    def spec(code: str, attempt: int, watchdog: float = 60) -> TaskSpec:
        report = tmp_path / f"report.attempt-{attempt}.json"
        argv = [sys.executable, "-c", f"import sys; open(sys.argv[1], 'w').write('{{}}'); {code}", str(report)]
        return TaskSpec("alice", str(tmp_path), argv, attempt, watchdog, str(tmp_path), {"X": "$HOME/x"})

    run_task(spec("import os, sys; sys.exit(0 if os.environ['X'].endswith('/x') and '$' not in os.environ['X'] "
                  "else 5)", 1))
    status = json.loads((tmp_path / "task.json").read_text())
    assert status["state"] == "finished" and status["attempt"] == 1 and (tmp_path / "report.json").is_file()

    (tmp_path / "report.json").unlink()
    run_task(spec("sys.exit(130)", 2))   # SIGTERM'd grader: a partial report, not a final one
    status = json.loads((tmp_path / "task.json").read_text())
    assert status["state"] == "interrupted" and "status 130" in status["reason"]
    assert not (tmp_path / "report.json").exists()

    run_task(spec("import time; time.sleep(30)", 3, watchdog=1))
    status = json.loads((tmp_path / "task.json").read_text())
    assert status["state"] == "interrupted" and "time limit of 1 s" in status["reason"]
    assert len((tmp_path / "task.log").read_text().splitlines()) == 3


def test_sbatch_parameters_come_from_the_rubric_and_the_options():
    run = ClusterRun(out_dir=Path("/o"), command=None, watchdog_s=1000, needs_gpu=True, memory_limit_mb=6144)
    args = SimpleNamespace(slurm_time_min=None, slurm_mem_gb=None, slurm_cpus_per_task=2, slurm_partition="gpu",
                           slurm_account=None, slurm_qos=None, slurm_array_parallelism=50, slurm_gres=None,
                           slurm_extra=["constraint=a100"])
    p = sbatch_parameters(args, run, gpus=1)
    assert p["time"] == 19 and p["mem"] == "8192M" and p["gres"] == "gpu:1"   # (1000 + 120) s -> 19 min
    assert p["partition"] == "gpu" and p["array_parallelism"] == 50 and "account" not in p
    assert p["additional_parameters"] == {"constraint": "a100"}
    assert "gres" not in sbatch_parameters(args, run, gpus=0)
    args.slurm_extra = ["constraint"]
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        sbatch_parameters(args, run, gpus=1)
    assert array_index("1234_7") == 7 and array_index("1234") == 0


def test_a_student_who_resubmits_while_graded_has_the_old_job_cancelled(tmp_path):
    jobs, run, manifest = make_class(tmp_path, 2)
    backend = ScriptedBackend()
    backend.on_poll = lambda b: (_ for _ in ()).throw(KeyboardInterrupt())
    drive(backend, run, manifest, jobs)
    (jobs[1].folder / "report.json").write_text("{}")   # left by some earlier grading
    jobs[1].key = "key1-resubmitted"
    backend.on_poll = lambda b: [b.finish(j) for j in list(b.queued)]
    drive(backend, run, manifest, jobs)
    assert backend.submits == [["s0", "s1"], ["s1"]], "s0 adopted, s1 graded again"
    assert manifest.students["s1"]["job_id"] == "2_0" and manifest.students["s1"]["attempt"] == 2
    assert backend.cancelled == ["1_1"] and manifest.students["s1"]["key"] == "key1-resubmitted"
