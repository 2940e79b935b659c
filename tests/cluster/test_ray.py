"""`batch --executor ray` on a real local Ray cluster (`ray start --head` on 127.0.0.1, 3 fake GPUs).

Every task asks for one GPU (--task-gpus 1), so Ray's GPU scheduling is exercised without a device. The
Ray worker process grading one student is killed with SIGKILL mid-grade: an infrastructure failure, which
the driver retries in a fresh worker. Scores must equal `--executor local`'s.
"""
from __future__ import annotations

import os
import signal

import pytest

from . import ray_cluster
from .conftest import (STUDENTS, batch, differences, grading_mid_run, importable, manifest, require_system, scores,
                       task_starts, cluster_env, wait_for)


@pytest.fixture(scope="module")
def ray_head():
    require_system(importable("ray"), "Ray", "pip install 'cnn-practical-grader[ray]'")
    cluster = ray_cluster.start(cluster_env())
    yield cluster
    cluster.stop()


def test_ray_worker_killed_mid_task_is_retried(ray_head, cluster_class, local_scores, tmp_path):
    subs, rubric = cluster_class
    out = tmp_path / "out"
    args = ("--executor", "ray", "--ray-address", ray_head.address, "--task-gpus", "1",
            "--ray-cpus-per-task", "1", "--poll-s", "1")
    driver = batch(subs, out, rubric, *args, wait=False)

    victim = "a_reference"
    status = wait_for(lambda: grading_mid_run(out, victim), 300, f"{victim} grading in a Ray worker", driver)
    worker = status["pid"]
    assert "ray" in ray_cluster.process_cmdline(worker).lower(), ray_cluster.process_cmdline(worker)
    os.kill(worker, signal.SIGKILL)
    assert driver.wait(timeout=600) == 0, (out.parent / "out.log").read_text()[-3000:]

    entry = manifest(out)[victim]
    assert entry["final"] and entry["attempt"] == 2 and entry["failures"] == 1, entry
    assert "worker process or node died" in entry["history"][0]["reason"]
    for student in STUDENTS:
        assert len(task_starts(out, student)) == (2 if student == victim else 1), task_starts(out, student)
    assert not ray_cluster.alive(worker)
    assert scores(out) == local_scores, differences(out, local_scores)
