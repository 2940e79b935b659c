"""Ray: one task per student (`num_gpus=1` when the profile needs a GPU), each in a fresh worker process.

`max_calls=1` makes Ray start a new worker process for every task, so a poisoned CUDA context or leaked
memory never carries over to the next student. Ray's own retries are off (`max_retries=0`): the driver
retries, so attempts are numbered and counted in the manifest the same way as on Slurm. Completion is read
with `ray.wait(fetch_local=False)`: the driver never calls `ray.get`, which would deserialize what the
task returned; the result is the task.json and report.json the task wrote on the shared filesystem.

Ray tasks belong to the driver that submitted them: when the driver dies, Ray stops them. A re-run collects
the students whose task.json says they finished and resubmits the others.
"""
from __future__ import annotations

import os
import socket

from ..config import ConfigError
from ..sinks import terminal_text
from .task import TaskSpec, run_task

INSTALL = "pip install 'cnn-practical-grader[ray]'"


def join(ray, address: str | None) -> None:
    """ray.init, with a failure said in one line and what to do: Ray retries a dead head for minutes, then
    exits the process (SystemExit); a missing token is an AuthenticationError with a page of text."""
    where = address or "this machine"
    if address and address != "auto" and "://" not in address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--ray-address {address!r}: expected HOST:PORT of the cluster's head, e.g. "
                              f"10.0.0.1:6379")
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as exc:
            raise ConfigError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): start its head there "
                              f"with `ray start --head --port={port}`, or pass the head's address") from None
    try:
        ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
    except (Exception, SystemExit) as exc:
        said = " ".join(str(exc).split())
        if isinstance(exc, ray.exceptions.AuthenticationError):
            raise ConfigError(f"the Ray cluster at {where} uses token authentication and this machine has no "
                              f"token for it: set RAY_AUTH_TOKEN (or copy ~/.ray/auth_token from the head). "
                              f"Ray said: {said[:300]}") from None
        if isinstance(exc, SystemExit):   # what Ray does after minutes of retrying a head that does not reply
            raise ConfigError(f"Ray gave up joining the cluster at {where}: something answers there, but no Ray "
                              f"head did (check the address and port that `ray start --head` printed)") from None
        raise ConfigError(f"could not join the Ray cluster at {where}: {type(exc).__name__} {said[:300]}") from None


class RayBackend:
    name = "ray"

    def __init__(self, args, run):
        try:
            import ray
        except ImportError:
            raise ConfigError(f"--executor ray needs ray: {INSTALL}") from None
        from . import task
        from .task import task_gpus
        ray.cloudpickle.register_pickle_by_value(task)   # workers need the interpreter, not this package
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        self.ray = ray
        join(ray, args.ray_address)
        gpus = task_gpus(args, run)
        if gpus and ray.cluster_resources().get("GPU", 0) < gpus:
            raise ConfigError(f"the Ray cluster at {args.ray_address or 'this machine'} has no GPU for the "
                              "profile's tasks: start the nodes with GPUs, or use --profile quick --task-gpus 0")
        self.remote = ray.remote(num_cpus=args.ray_cpus_per_task, num_gpus=gpus, max_calls=1, max_retries=0,
                                 memory=run.memory_mb * 2**20)(run_task)
        self.refs: dict[str, object] = {}
        self.chunk_size = 10**9

    def submit(self, specs: list[TaskSpec], name: str) -> list[str]:
        ids = []
        for spec in specs:
            ref = self.remote.options(name=terminal_text(f"{name}:{spec.student_id}")).remote(spec)   # shown in logs
            ids.append(ref.task_id().hex())
            self.refs[ids[-1]] = ref
        return ids

    def find(self, name: str) -> dict[int, str]:
        return {}   # a previous driver's tasks died with it

    def alive(self, job_ids: list[str]) -> dict[str, str]:
        refs = [self.refs[i] for i in job_ids if i in self.refs]
        if not refs:
            return {}
        _, pending = self.ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
        pending = set(pending)
        return {i: "PENDING" for i in job_ids if i in self.refs and self.refs[i] in pending}

    def end_reason(self, job_id: str) -> str:
        if job_id not in self.refs:
            return "the Ray task belonged to a driver that stopped"
        return "the Ray task ended without finishing the grade (worker process or node died)"

    def cancel(self, job_ids: list[str]) -> None:
        for i in job_ids:
            if i in self.refs:
                self.ray.cancel(self.refs[i], force=True)

    def close(self) -> None:
        self.ray.shutdown()
