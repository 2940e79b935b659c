"""Slurm through submitit: one job array per chunk of students, state from squeue.

submitit writes the sbatch script (array, %parallelism, time, memory, GPU, partition...) and ships
task.GradeTask with each student's TaskSpec. The driver never calls Job.result()/results()/exception(),
the only submitit calls that unpickle what a task wrote. Slurm rejects arrays with an index >=
MaxArraySize (1001 by default), so students go in chunks of MaxArraySize - 1, one array each.

State comes from one `squeue -r` per poll (one line per array task), not from submitit's sacct watcher:
that needs Slurm accounting, which many clusters (and the test cluster) do not run. A job the queue no
longer lists has ended; task.json says whether it finished.
"""
from __future__ import annotations

import getpass
import math
import re
import shutil
import subprocess
from pathlib import Path

from ..config import ConfigError
from .driver import SchedulerUnavailable
from .task import GradeTask, TaskSpec

DEFAULT_MAX_ARRAY_SIZE = 1001
ALIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
         "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}
INSTALL = "pip install 'cnn-practical-grader[slurm]'"


def _run(*cmd: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise SchedulerUnavailable(f"{' '.join(cmd[:2])} did not answer within 60 s") from None
    if proc.returncode != 0:
        raise SchedulerUnavailable(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def max_array_size() -> int:
    try:
        match = re.search(r"^MaxArraySize\s*=\s*(\d+)", _run("scontrol", "show", "config"), re.M)
    except (SchedulerUnavailable, OSError):
        match = None
    return int(match.group(1)) if match else DEFAULT_MAX_ARRAY_SIZE


def array_index(job_id: str) -> int:
    """'1234_7' -> 7; a lone job '1234' (an array of one is submitted as a plain job) -> 0."""
    return int(job_id.split("_", 1)[1]) if "_" in job_id else 0


def sbatch_parameters(args, run, gpus: int) -> dict:
    """submitit's SlurmExecutor parameters for one grade per array task."""
    params = {"time": args.slurm_time_min or math.ceil(run.time_limit_s / 60),
              "mem": f"{math.ceil(args.slurm_mem_gb * 1024 if args.slurm_mem_gb else run.memory_mb)}M",
              "cpus_per_task": args.slurm_cpus_per_task, "ntasks_per_node": 1, "nodes": 1,
              "stderr_to_stdout": True}
    for key in ("partition", "account", "qos", "array_parallelism"):
        if getattr(args, f"slurm_{key}") is not None:
            params[key] = getattr(args, f"slurm_{key}")
    if gpus:
        params["gres"] = args.slurm_gres or f"gpu:{gpus}"
    extra = {}
    for item in args.slurm_extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--slurm-extra {item!r}: expected KEY=VALUE, e.g. constraint=a100")
        extra[key.strip().lstrip("-")] = value
    if extra:
        params["additional_parameters"] = extra
    return params


class SlurmBackend:
    name = "slurm"

    def __init__(self, args, run):
        try:
            import cloudpickle
            import submitit
        except ImportError:
            raise ConfigError(f"--executor slurm needs submitit: {INSTALL}") from None
        if not shutil.which("sbatch"):
            raise ConfigError("--executor slurm: sbatch not found; start the driver where you can submit "
                              "Slurm jobs (a login node), with the out-dir on a filesystem the nodes share")
        from . import task
        cloudpickle.register_pickle_by_value(task)   # the node needs the interpreter, not this package
        from .task import task_gpus
        folder = Path(args.slurm_folder or run.out_dir / ".slurm").resolve()
        self.executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=0)
        self.executor.update_parameters(**sbatch_parameters(args, run, task_gpus(args, run)))
        self.chunk_size = max(1, (args.slurm_max_array_size or max_array_size()) - 1)
        self.user = getpass.getuser()
        self.ended: dict[str, str] = {}

    def submit(self, specs: list[TaskSpec], name: str) -> list[str]:
        self.executor.update_parameters(job_name=name)
        try:
            jobs = self.executor.map_array(GradeTask(), specs)
        except Exception as exc:   # submitit raises a bare Exception with sbatch's message
            raise RuntimeError(f"sbatch refused the array {name}: {exc}") from None
        return [job.job_id for job in jobs]

    def _queue(self, *extra: str) -> list[list[str]]:
        out = _run("squeue", "--noheader", "--array", "--user", self.user, "--format", "%i|%T|%j", *extra)
        return [line.split("|") for line in out.splitlines() if line.count("|") == 2]

    def find(self, name: str) -> dict[int, str]:
        return {array_index(job_id): job_id for job_id, _, _ in self._queue("--name", name)}

    def alive(self, job_ids: list[str]) -> dict[str, str]:
        wanted, states = set(job_ids), {}
        for job_id, state, _ in self._queue("--states", "all"):
            if job_id in wanted:
                if state in ALIVE:
                    states[job_id] = state
                else:
                    self.ended[job_id] = state
        return states

    def end_reason(self, job_id: str) -> str:
        state = self.ended.get(job_id)
        if not state and shutil.which("sacct"):   # the queue forgot it: accounting may remember
            try:
                lines = _run("sacct", "--noheader", "-X", "-P", "-o", "State", "-j", job_id).split()
            except SchedulerUnavailable:
                lines = []
            state = lines[0] if lines else ""
        return f"Slurm ended job {job_id} as {state} before the grade finished" if state else ""

    def cancel(self, job_ids: list[str]) -> None:
        if job_ids:
            subprocess.run(["scancel", *job_ids], capture_output=True, timeout=60)

    def close(self) -> None:
        pass
