"""`batch --executor slurm` on a real single-node Slurm (slurmctld + slurmd + munged, started here).

One run exercises everything the issue asks of Slurm: sbatch arrays chunked under MaxArraySize (4 here, so
the six students need two arrays), one GPU per task through --gres on fake GPUs, an array task cancelled
with scancel mid-grade and retried, the driver killed with SIGKILL mid-batch and a re-run that adopts the
jobs still queued or running instead of submitting them again. Scores must equal `--executor local`'s.
"""
from __future__ import annotations

import os

import pytest

from . import slurm_cluster
from .conftest import (STUDENTS, batch, differences, grading_mid_run, importable, manifest, require_system, scores,
                       task_starts, cluster_env, wait_for)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = slurm_cluster.missing_binaries()
    require_system(not missing, f"Slurm and munge ({', '.join(missing)} missing)", slurm_cluster.INSTALL_HINT)
    require_system(os.geteuid() == 0, "root (to start slurmctld, slurmd and munged for the test cluster)",
                   "sudo python -m pytest tests/cluster")
    require_system(importable("submitit"), "submitit", "pip install 'cnn-practical-grader[slurm]'")
    cluster = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.run("scancel", "--user", "root", check=False)
    cluster.stop()


def test_slurm_arrays_scancel_retry_driver_killed_and_resumed(slurm, cluster_class, local_scores, tmp_path):
    subs, rubric = cluster_class
    out = tmp_path / "out"
    env = cluster_env(**slurm.env)
    args = ("--executor", "slurm", "--poll-s", "1", "--slurm-cpus-per-task", "1", "--task-gpus", "1",
            "--slurm-partition", "debug", "--slurm-time-min", "10")
    first = batch(subs, out, rubric, *args, env=env, wait=False)

    # 1. scancel one array task while its grader is running: an infrastructure failure, retried
    victim = "a_reference"
    wait_for(lambda: grading_mid_run(out, victim), 300, f"{victim} grading on a node", first)
    cancelled = manifest(out)[victim]["job_id"]
    assert "_" in cancelled, "the first submission should be a job array"
    slurm.run("scancel", cancelled)
    wait_for(lambda: manifest(out)[victim].get("attempt") == 2 and manifest(out)[victim]["job_id"], 120,
             f"{victim} resubmitted after scancel", first)

    # 2. kill the driver (no clean-up) while students are still queued or running on Slurm
    first.kill()
    first.wait()
    before = manifest(out)
    open_jobs = {s: e["job_id"] for s, e in before.items() if not e.get("final") and e.get("job_id")}
    assert open_jobs, "the driver should have been killed while some students were still on the cluster"
    assert len({e["job_id"].split("_")[0] for e in before.values() if e.get("attempt") == 1}) == 2, \
        "six students under MaxArraySize=4 go in two arrays"

    # 3. the same command again: adopts what is on the cluster, finishes the class
    second = batch(subs, out, rubric, *args, env=env)
    assert f"({len(open_jobs)} already submitted by an earlier run, adopted)" in second.stderr
    after = manifest(out)
    for student, job_id in open_jobs.items():
        assert after[student]["job_id"] == job_id, f"{student} was submitted again instead of adopted"
    for student in STUDENTS:   # one task start per student, two for the cancelled one: no duplicate jobs
        assert len(task_starts(out, student)) == (2 if student == victim else 1), task_starts(out, student)
    assert after[victim]["failures"] == 1 and "CANCELLED" in after[victim]["history"][0]["reason"]
    wait_for(lambda: not slurm.run("squeue", "--noheader").stdout.strip(), 60, "Slurm's queue to drain")

    assert scores(out) == local_scores, differences(out, local_scores)
    assert (out / "summary.html").is_file()
    assert not list(out.glob("*/report.attempt-*.json")), "killed attempts' partial reports are cleaned up"
    scripts = [p.read_text() for p in (out / ".slurm").rglob("*_submission.sh")]
    assert scripts and all("--gres=gpu:1" in text and "--array=0-" in text for text in scripts if "--array" in text)
