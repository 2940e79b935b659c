"""Grade a class on a cluster: `python -m grader batch ... --executor slurm|ray` (local stays the default).

batch.py builds the job list and the manifest exactly as for the local executor and hands the students still
to grade to `run_on_cluster`; driver.py submits one task per student through a backend (slurm.py: submitit
job arrays; ray.py: one Ray task each), polls, retries infrastructure failures and records every state
change in the manifest. Each task runs task.py on a node: the same `python -m grader grade` command as the
local executor, writing the student's report.json into the shared out-dir. The driver reads JSON only.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..paths import DataPaths

EXECUTORS = ("local", "slurm", "ray")
DEFAULT_RETRIES = 2
TASK_OVERHEAD_S = 120   # on top of the grader's watchdog: interpreter and imports, data check, a cold cache


@dataclass
class ClusterRun:
    """What batch.py knows that every backend needs."""
    out_dir: Path
    command: Callable[[object, Path], list[str]]   # (Job, report path) -> the `grader grade` argv
    watchdog_s: float          # sum of the rubric's item timeouts + margin: the task's own time limit
    needs_gpu: bool            # the profile's device is cuda
    memory_limit_mb: int       # the rubric's per-worker memory cap
    paths: DataPaths | None = None   # this machine's data and cache (the nodes' too, unless --node-*-dir)
    sr_factors: list[int] = field(default_factory=list)
    cwd: Path = Path.cwd()
    env: dict[str, str] = field(default_factory=dict)   # PYTHONPATH and the data/cache roots for the nodes

    @property
    def time_limit_s(self) -> float:
        return self.watchdog_s + TASK_OVERHEAD_S

    @property
    def memory_mb(self) -> int:
        """One grade's peak: the worker's cap, the orchestrator (~400 MB), the one-off decode (~820 MB)."""
        return self.memory_limit_mb + 2048


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local: graders on this machine (--jobs); slurm or ray: one cluster task per student")
    c = parser.add_argument_group("cluster executors (slurm, ray)")
    c.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                   help="resubmissions after an infrastructure failure (node lost, preempted, cancelled, the "
                        "task's time limit, a grade the machine starved: exit 75, the local executor too) before "
                        "the student's row says infra_error; student failures are final")
    c.add_argument("--task-gpus", choices=["auto", "0", "1"], default="auto",
                   help="GPUs per task (auto: 1 when the profile's device is cuda)")
    c.add_argument("--node-data-dir", help="where the nodes find the data (default: this machine's "
                   "GRADER_DATA_DIR, which must then be on a shared filesystem)")
    c.add_argument("--node-cache-dir", help="decode cache on the nodes, e.g. a node-local '$TMPDIR/grader' "
                   "($VARS expand on the node); default: this machine's cache, shared, warmed once by the driver")
    c.add_argument("--poll-s", type=float, default=10.0, help="seconds between scheduler polls")
    s = parser.add_argument_group("slurm (pip install 'cnn-practical-grader[slurm]')")
    s.add_argument("--slurm-partition")
    s.add_argument("--slurm-account")
    s.add_argument("--slurm-qos")
    s.add_argument("--slurm-time-min", type=int, help="per-task time limit (default: the rubric's item "
                   "timeouts + margin + start-up)")
    s.add_argument("--slurm-mem-gb", type=float, help="memory per task (default: worker cap + 2 GB)")
    s.add_argument("--slurm-cpus-per-task", type=int, default=2)
    s.add_argument("--slurm-gres", help="GPU request when a task needs one (default gpu:1, e.g. gpu:a100:1)")
    s.add_argument("--slurm-array-parallelism", type=int, help="array tasks running at once (%%N)")
    s.add_argument("--slurm-max-array-size", type=int, help="default: the cluster's MaxArraySize (1001 if unknown)")
    s.add_argument("--slurm-folder", help="submitit's folder for scripts and logs (default OUT_DIR/.slurm)")
    s.add_argument("--slurm-extra", action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. constraint=a100 (repeatable)")
    r = parser.add_argument_group("ray (pip install 'cnn-practical-grader[ray]')")
    r.add_argument("--ray-address", help="a running cluster, e.g. 10.0.0.1:6379 (default: join the local "
                   "one started with `ray start`, or start one)")
    r.add_argument("--ray-cpus-per-task", type=float, default=2.0)


def node_env(args, run: ClusterRun) -> dict[str, str]:
    """The variables a task sets on its node, on top of run.env."""
    env = dict(run.env)
    if args.node_data_dir:
        env["GRADER_DATA_DIR"] = args.node_data_dir
    if args.node_cache_dir:
        env["GRADER_CACHE_DIR"] = args.node_cache_dir
    return env


def prewarm_shared_cache(args, run: ClusterRun) -> None:
    """With the default shared cache, decode the data once here rather than in the first task on the
    cluster while every other task waits on the cache lock holding a GPU."""
    if args.node_cache_dir or not run.sr_factors or run.paths is None:
        return
    from .. import oracle
    oracle.warm(run.paths, run.sr_factors)


def run_on_cluster(args, jobs: list, manifest, run: ClusterRun) -> bool:
    """Grade `jobs` (batch.Job) on the cluster named by args.executor; returns True when interrupted."""
    from .driver import Driver
    if args.retries < 0:
        from ..config import ConfigError
        raise ConfigError("--retries must be 0 or more")
    run.env = node_env(args, run)
    if args.executor == "slurm":
        from .slurm import SlurmBackend
        backend = SlurmBackend(args, run)
    else:
        from .ray import RayBackend
        backend = RayBackend(args, run)
    if jobs:
        prewarm_shared_cache(args, run)
    try:
        return Driver(backend, run, manifest, retries=args.retries, poll_s=args.poll_s).run(jobs)
    finally:
        backend.close()
