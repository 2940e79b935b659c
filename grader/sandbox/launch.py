"""Starting a worker: its command line per sandbox mode, its environment, and what runs between fork and
exec (own session, rlimits, dropping root). Nothing here waits on or watches the worker."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .limits import Limits
from .modes import SANDBOX_UID
from .program import WorkerProgram

# Where bwrap mounts the private folder: the first that hides none of the read-only binds (a venv under /work).
WORKSPACE_IN_BWRAP = ("/work", "/sandbox", "/grader-sandbox-work")
SYSTEM_RO = ("/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/ld.so.cache")
FILE_SIZE_CAP = 512 * 2**20   # RLIMIT_FSIZE: no single file larger (SIGXFSZ)
AS_HEADROOM_MB = 3072         # RLIMIT_AS above the memory limit: torch maps far more than it touches
NPROC_CAP = 256


def workspace_seen(mode: str, root: Path, limits: Limits) -> str:
    """The private folder's path as the worker sees it."""
    if mode != "bwrap":
        return str(root)
    binds = [Path(p) for p in (*SYSTEM_RO, *interpreter_roots(limits))]
    return next(mount for mount in WORKSPACE_IN_BWRAP
                if not any(p == Path(mount) or Path(mount) in p.parents for p in binds))


def interpreter_roots(limits: Limits) -> list[str]:
    """What the worker's Python needs, bound read-only in bwrap."""
    return sorted({sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                   *limits.extra_ro})


def command(mode: str, root: Path, program: WorkerProgram, reply_fd: int, limits: Limits) -> list[str]:
    python = [sys.executable, "-I", "-B", *program.arguments(workspace_seen(mode, root, limits), reply_fd)]
    return bwrap_arguments(root, limits, ["in", *program.tops]) + python if mode == "bwrap" else python


def bwrap_arguments(root: Path, limits: Limits, read_only: list[str] = ()) -> list[str]:
    """bubblewrap's arguments; `read_only`: entries of the private folder the worker may not change."""
    mount = workspace_seen("bwrap", root, limits)
    cmd = ["bwrap", "--die-with-parent", "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
           "--gid", str(SANDBOX_UID), "--new-session", "--cap-drop", "ALL",
           "--proc", "/proc", "--dev", "/dev",
           # /tmp and /dev/shm on disk inside the private folder, so the disk watchdog sees them
           # (a tmpfs would be memory that no RSS counts); the rest of /dev read-only
           "--bind", str(root / "tmp"), "/tmp", "--bind", str(root / "shm"), "/dev/shm"]
    for path in SYSTEM_RO:
        cmd += ["--ro-bind-try", path, path]
    for path in interpreter_roots(limits):
        cmd += ["--ro-bind-try", path, path]
    site = Path(sysconfig.get_paths()["purelib"])
    if (site / "grader").is_dir():      # a regular install: hide the grader from the worker
        cmd += ["--tmpfs", str(site / "grader")]
    if limits.use_cuda:
        for dev in sorted(Path("/dev").glob("nvidia*")):
            cmd += ["--dev-bind", str(dev), str(dev)]
    cmd += ["--remount-ro", "/dev", "--bind", str(root), mount]
    for name in read_only:
        cmd += ["--ro-bind", str(root / name), f"{mount}/{name}"]
    return cmd + ["--chdir", mount, "--setenv", "HOME", mount, "--setenv", "TMPDIR", "/tmp"]


# What makes a worker's numbers the same on every machine; the report records exactly this (determinism()).
DETERMINISM_ENV = {"PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GRADER_THREADS")


def determinism(limits: Limits, seed: int) -> dict:
    """The settings every worker runs under (the worker applies the torch ones: worker/training.py)."""
    return {"train_seed": seed, "use_deterministic_algorithms": True, "cudnn_benchmark": False,
            "threads": limits.threads, **{k: v for k, v in DETERMINISM_ENV.items()},
            "note": "one torch thread per worker on every machine, so no metric depends on the core count; "
                    "MNIST batches and SR patches come from seeded torch.Generators"}


def environment(mode: str, root: Path, limits: Limits, parent_env: dict[str, str] | None = None) -> dict[str, str]:
    parent_env = dict(os.environ if parent_env is None else parent_env)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           **DETERMINISM_ENV, **{name: str(limits.threads) for name in THREAD_VARIABLES}}
    if mode == "none":   # a laptop run keeps the user's environment (proxies, CUDA paths, ...)
        env = {**parent_env, **{k: v for k, v in env.items() if k != "HOME"}}
    env["TMPDIR"] = str(root / "tmp")   # in every mode: temporary files count against the disk cap, and go with the folder
    for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in parent_env:
            env[key] = parent_env[key]
    return env


DROP_AFTER_IMPORTS = "GRADER_DROP_TO_UID"   # the worker switches to this uid itself (grader/worker/__main__.py)


@dataclass(frozen=True)
class Preexec:
    """Runs in the child between fork and exec: its own session, rlimits, and (as root) the sandbox uid,
    unless the worker must switch itself after its imports (`late`)."""
    mode: str
    limits: Limits
    drop_to: int | None = None
    late: bool = False

    def rlimits(self) -> dict[int, int]:
        caps = {resource.RLIMIT_CORE: 0, resource.RLIMIT_FSIZE: FILE_SIZE_CAP}
        if self.mode == "none":
            return caps
        if not self.limits.use_cuda:   # CUDA reserves huge virtual address space: rely on the RSS watchdog
            caps[resource.RLIMIT_AS] = (self.limits.memory_mb + AS_HEADROOM_MB) * 2**20
        if self.drop_to is not None:
            caps[resource.RLIMIT_NPROC] = NPROC_CAP
        return caps

    def __call__(self) -> None:
        os.setsid()
        caps = self.rlimits()
        nproc = caps.pop(resource.RLIMIT_NPROC, None)
        for which, cap in caps.items():
            resource.setrlimit(which, (cap, cap))
        if self.drop_to is not None and not self.late:
            os.setgroups([])
            os.setgid(self.drop_to)
            os.setuid(self.drop_to)
        if nproc is not None and not self.late:   # a late switch sets it after its own setuid   # after setuid: set before, setuid would flag the exec to fail at the cap
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def spawn(mode: str, root: Path, program: WorkerProgram, limits: Limits,
          drop_to: int | None = None, late: bool = False) -> tuple[subprocess.Popen, int]:
    """Start the worker in `root`; return it and the read end of its reply pipe. `late`: the worker switches
    to `drop_to` itself once Python and torch are loaded (they are not readable by that uid)."""
    read_fd, write_fd = os.pipe()
    env = environment(mode, root, limits)
    if late and drop_to is not None:
        env[DROP_AFTER_IMPORTS] = f"{drop_to}:{NPROC_CAP}"
    try:
        proc = subprocess.Popen(
            command(mode, root, program, write_fd, limits), cwd=root, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_fd,),
            preexec_fn=Preexec(mode, limits, drop_to, late))
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return proc, read_fd
