"""`batch --executor ray` on a real local Ray cluster (`ray start --head` on 127.0.0.1, 3 fake GPUs).

Every task asks for one GPU (--task-gpus 1), so Ray's GPU scheduling is exercised without a device. The
Ray worker process grading one student is killed with SIGKILL mid-grade: an infrastructure failure, which
the driver retries in a fresh worker. Scores must equal `--executor local`'s.
"""
from __future__ import annotations

import os
import signal
import socket

import pytest

from . import ray_cluster
from .conftest import (STUDENTS, batch, differences, fast_rubric, grading_mid_run, importable, manifest,
                       require_system, scores, task_starts, cluster_env, wait_for, write_submission)


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


def failed_batch(tmp_path, address: str, **env: str) -> str:
    """stderr of a batch that could not join the Ray cluster at `address` (exit status 2, no traceback)."""
    require_system(importable("ray"), "Ray", "pip install 'cnn-practical-grader[ray]'")
    subs = tmp_path / "subs"
    write_submission(subs / "a")
    r = batch(subs, tmp_path / "out", fast_rubric(tmp_path / "fast.yaml"), "--executor", "ray", "--ray-address",
              address, env=cluster_env(HOME=str(tmp_path), **env), check=False, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stdout + r.stderr
    return r.stderr


def test_a_ray_head_that_does_not_answer_is_one_line_not_minutes(tmp_path):
    """Ray itself retries a dead address for minutes, then exits the driver with status 15."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # free once closed: nothing listens there
    said = failed_batch(tmp_path, f"127.0.0.1:{port}")
    assert f"no Ray cluster answers at 127.0.0.1:{port} (Connection refused)" in said, said
    assert f"ray start --head --port={port}" in said, said


def test_a_cluster_with_token_authentication_and_no_token_here_says_what_to_set(tmp_path):
    """Ray's own AuthenticationError (a page of text) becomes one line naming RAY_AUTH_TOKEN."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        said = failed_batch(tmp_path, f"127.0.0.1:{s.getsockname()[1]}", RAY_AUTH_MODE="token")
    last = said.splitlines()[-1]
    assert last.startswith("error: the Ray cluster at ") and "ray.exceptions" not in said, said
    assert "uses token authentication and this machine has no token for it: set RAY_AUTH_TOKEN" in last, said
