"""Start worker processes isolated from the grader and enforce limits on them from outside.

Modes: `none` (a plain child process: laptops), `process` (python -I, clean env, own session, rlimits,
non-root uid when we are root, private cwd), `bwrap` (process + bubblewrap: no network, own PID
namespace, read-only binds of only the interpreter, site-packages and the private folder; /tmp and /dev/shm
are folders inside the private one, so the disk watchdog counts them).
Deadlines, the memory cap and the disk cap are enforced by this process (the worker cannot opt out); whatever the
worker started is killed when its item group ends: its process group, every descendant re-parented to
us (we are a child subreaper), and in `process` mode as root every process of the sandbox uid.
"""
from __future__ import annotations

import ctypes
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
WORKER_SOURCE = WORKER_SCRIPT.read_bytes()   # read once: a long run never pairs this module with a newer worker
SANDBOX_UID = 64123          # an unused uid for student code when the grader runs as root
PR_SET_CHILD_SUBREAPER = 36
MAX_OUTPUT_BYTES = 256 * 2**20   # the largest real output (SR on the full BSDS test set) is about 30 MB


class WorkerFailure(Exception):
    """The worker died, hung, blew its memory or broke the protocol. `kind` says which."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.output = kind, ""


def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        return subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def interpreter_is_world_readable() -> bool:
    """Can another uid run this Python and import torch? (Not when they live under /root, e.g. pyenv.)"""
    import importlib.util
    torch_dir = importlib.util.find_spec("torch").submodule_search_locations[0]
    for target in (os.path.realpath(sys.executable), torch_dir):
        path = Path(target)
        for parent in [*reversed(path.parents), path]:
            mode = parent.stat().st_mode
            if not mode & 0o001 and parent.is_dir() or not mode & 0o004 and parent == path:
                return False
    return True


def sandbox_note(mode: str) -> str:
    """What the sandbox does and does not do here, for the report."""
    if mode == "bwrap":
        return f"bubblewrap: no network, own PID/user namespace (uid {SANDBOX_UID}), read-only system, rlimits"
    if mode == "process":
        if os.geteuid() != 0:
            return "isolated process (python -I, clean env, own session, rlimits) as the grader's own user"
        if interpreter_is_world_readable():
            return f"isolated process (python -I, clean env, own session, rlimits) as uid {SANDBOX_UID}"
        return ("isolated process, but STILL ROOT: the Python interpreter or torch is not readable by other "
                "users, so privileges could not be dropped (install Python outside /root, or use bwrap)")
    return "none: student code runs as a plain child process with your permissions (fine on your own laptop)"


def resolve_mode(requested: str) -> str:
    if requested == "auto":
        return "bwrap" if bwrap_works() else "process"
    if requested == "bwrap" and not bwrap_works():
        raise RuntimeError("--sandbox bwrap: bubblewrap is not installed or cannot create namespaces here "
                           "(install the `bubblewrap` package, or use --sandbox process)")
    return requested


class OutputTail:
    """Drains a pipe on a thread, keeping only the last `limit` bytes: a print flood costs nothing."""

    def __init__(self, stream, limit: int):
        self.limit, self.buffer, self.total = limit, bytearray(), 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream):
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self.lock:
                self.total += len(chunk)
                self.buffer += chunk
                if len(self.buffer) > 2 * self.limit:
                    del self.buffer[:-self.limit]

    def mark(self) -> int:
        with self.lock:
            return self.total

    def since(self, mark: int) -> str:
        """What was printed since `mark`, capped to the tail, saying how much was dropped."""
        self.thread.join(timeout=0.2)
        with self.lock:
            new = self.total - mark
            kept = bytes(self.buffer[-min(new, self.limit):]) if new > 0 else b""
        text = kept.decode("utf-8", "replace")
        if new > len(kept):
            text = f"[... {new - len(kept):,} earlier bytes of output dropped ...]\n" + text
        return text


def _set_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def _children(pid: int) -> set[int]:
    return {child for child, parent in _parents().items() if parent == pid}


def _descendants(root_pid: int) -> list[int]:
    """Every live process whose parent chain reaches root_pid."""
    parents = _parents()
    found, frontier = set(), {root_pid}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= frontier
    return sorted(found)


def _alive(pid: int) -> bool:
    """Exists and is not a zombie (a zombie is already dead: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def _disk_mb(root: Path) -> float:
    """Space taken by the files under root (allocated blocks, so sparse files count what they use)."""
    total, stack = 0, [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += st.st_blocks * 512
        except OSError:
            continue
    return total / 2**20


def _rss_mb(pids) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Limits:
    memory_mb: int = 6144
    output_kb: int = 64
    threads: int = 2
    startup_s: float = 180       # interpreter + torch import, before any student code: not the item's time
    disk_mb: int = 1024          # files the worker may keep in its private folder (and its /tmp, /dev/shm)
    use_cuda: bool = False
    extra_ro: list[str] = field(default_factory=list)


class WorkerSession:
    """One worker process serving the tasks of one item group; `call()` sends a task and waits for its reply.

    After a WorkerFailure the process is gone; the next `call()` starts a fresh one, so a crash in one
    task costs that task only.
    """

    def __init__(self, submission: Path, mode: str, limits: Limits):
        _set_subreaper()
        self.mode, self.limits = mode, limits
        self.dir = Path(tempfile.mkdtemp(prefix="grader-worker-"))
        (self.dir / "worker.py").write_bytes(WORKER_SOURCE)
        (self.dir / "submission").mkdir()
        for name in ("model.py", "pixel_shuffle.py"):
            if (submission / name).is_file():
                shutil.copy2(submission / name, self.dir / "submission" / name)
        for name in ("in", "out", "tmp", "shm"):
            (self.dir / name).mkdir()
        self.next_id = 0
        self.proc: subprocess.Popen | None = None
        self.drops_root = mode == "process" and os.geteuid() == 0 and interpreter_is_world_readable()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write_input(self, name: str, array) -> str:
        import numpy as np
        np.save(self.dir / "in" / f"{name}.npy", array, allow_pickle=False)
        return f"in/{name}.npy"

    def read_output(self, rel):
        """Load an array the worker wrote: a plain .npy inside its folder, no pickle, no symlink, no FIFO
        (opening a FIFO would block the grader forever), not absurdly large."""
        import numpy as np
        import stat
        if not isinstance(rel, str):
            raise WorkerFailure("protocol", f"the worker named {rel!r} instead of an output file")
        path = (self.dir / rel).resolve()
        if self.dir.resolve() not in path.parents:
            raise WorkerFailure("protocol", f"the worker named a file outside its folder: {rel!r}")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise WorkerFailure("protocol", f"the worker's output {rel} cannot be opened ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise WorkerFailure("protocol", f"the worker's output {rel} is not a regular file")
            if info.st_size > MAX_OUTPUT_BYTES:
                raise WorkerFailure("protocol", f"the worker's output {rel} is {info.st_size:,} bytes, more than "
                                                f"any expected output ({MAX_OUTPUT_BYTES:,})")
            try:
                return np.load(f, allow_pickle=False)
            except Exception as exc:
                raise WorkerFailure("protocol", f"the worker's output {rel} is not a plain array ({exc})") from None

    # ------------------------------------------------------------ process start
    def _command(self, reply_fd: int) -> list[str]:
        python = [sys.executable, "-I", "-B", "worker.py", str(reply_fd)]
        if self.mode != "bwrap":
            return python
        cmd = ["bwrap", "--die-with-parent", "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
               "--gid", str(SANDBOX_UID), "--new-session", "--cap-drop", "ALL",
               "--proc", "/proc", "--dev", "/dev",
               # /tmp and /dev/shm on disk inside the private folder, so the disk watchdog sees them
               # (a tmpfs would be memory that no RSS counts); the rest of /dev read-only
               "--bind", str(self.dir / "tmp"), "/tmp", "--bind", str(self.dir / "shm"), "/dev/shm"]
        for path in ("/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/ld.so.cache"):
            cmd += ["--ro-bind-try", path, path]
        roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                 *self.limits.extra_ro}
        for path in sorted(roots):
            cmd += ["--ro-bind-try", path, path]
        site = Path(sysconfig.get_paths()["purelib"])
        if (site / "grader").is_dir():      # a regular install: hide the grader from the worker
            cmd += ["--tmpfs", str(site / "grader")]
        if self.limits.use_cuda:
            for dev in Path("/dev").glob("nvidia*"):
                cmd += ["--dev-bind", str(dev), str(dev)]
        cmd += ["--remount-ro", "/dev", "--bind", str(self.dir), "/work", "--chdir", "/work",
                "--setenv", "HOME", "/work", "--setenv", "TMPDIR", "/tmp"]
        return cmd + python

    def _preexec(self):
        import resource
        os.setsid()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 2**20, 512 * 2**20))
        if self.mode == "none":
            return
        if not self.limits.use_cuda:   # CUDA reserves huge virtual address space: rely on the RSS watchdog
            cap = (self.limits.memory_mb + 3072) * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        if self.drops_root:
            os.setgroups([])
            os.setgid(SANDBOX_UID)
            os.setuid(SANDBOX_UID)
            resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))

    def start(self) -> None:
        if self.proc is not None:
            return
        if self.drops_root:
            for name in ("out", "tmp", "shm"):
                os.chown(self.dir / name, SANDBOX_UID, SANDBOX_UID)
            os.chmod(self.dir, 0o755)
        self.preexisting = _children(os.getpid())
        read_fd, write_fd = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.dir), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "OMP_NUM_THREADS": str(self.limits.threads), "GRADER_THREADS": str(self.limits.threads),
               "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.mode == "none":   # a laptop run keeps the user's environment (proxies, CUDA paths, ...)
            env = {**os.environ, **{k: v for k, v in env.items() if k != "HOME"}}
        else:
            env["TMPDIR"] = str(self.dir / "tmp")
        for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
            if key in os.environ:
                env[key] = os.environ[key]
        self.proc = subprocess.Popen(
            self._command(write_fd), cwd=self.dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, pass_fds=(write_fd,), preexec_fn=self._preexec)
        os.close(write_fd)
        self.replies = os.fdopen(read_fd, "rb", buffering=0)
        self.reply_buffer = b""
        self.output = OutputTail(self.proc.stdout, self.limits.output_kb * 1024)
        self.disk_checked = 0.0
        self.ready = False
        # Every genuine reply carries this token. It travels on stdin before any student code is imported,
        # so a submission that merely writes JSON into the reply fd (its number is in argv) is caught.
        self.token = secrets.token_hex(16)
        try:
            self.proc.stdin.write((json.dumps({"token": self.token}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            pass

    # ------------------------------------------------------------ one task
    def call(self, task: str, timeout_s: float, on_progress=None, **params) -> dict:
        """Run `task` in the worker; return its reply (with what it printed under "printed"),
        or raise WorkerFailure, after which the worker is dead and the next call starts a new one."""
        self.start()
        mark = self.output.mark()
        try:
            message = self._call(task, timeout_s, on_progress, params)
        except WorkerFailure as failure:
            failure.output = self.output.since(mark)
            self.kill()
            self.proc = None
            raise
        message["printed"] = self.output.since(mark)
        return message

    def _call(self, task: str, timeout_s: float, on_progress, params: dict) -> dict:
        if not self.ready:   # the worker says when it has imported torch; only then does the item's clock start
            deadline = time.monotonic() + self.limits.startup_s
            while not self._next_message(deadline, self.limits.startup_s, starting=True).get("ready"):
                pass
            self.ready = True
        self.next_id += 1
        request = {"id": self.next_id, "task": task, **params}
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            raise self._died() from None
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._next_message(deadline, timeout_s)
            if message.get("id") != self.next_id:
                continue
            if "progress" in message:
                if on_progress and isinstance(message["progress"], list) and len(message["progress"]) == 2:
                    on_progress(*message["progress"])
                continue
            return message

    def _next_message(self, deadline: float, timeout_s: float, starting: bool = False) -> dict:
        while b"\n" not in self.reply_buffer:
            now = time.monotonic()
            if now >= deadline:
                if starting:
                    raise WorkerFailure("timeout", f"the grader's worker did not start within {timeout_s:g} s "
                                                   f"(the machine is overloaded; not your code's fault)")
                raise WorkerFailure("timeout", f"your code did not finish within its time limit of {timeout_s:g} s "
                                               f"(an endless loop, or far too much work for the budget)")
            if _rss_mb([self.proc.pid, *_descendants(self.proc.pid)]) > self.limits.memory_mb:
                raise WorkerFailure("memory", f"your code used more than the memory limit of {self.limits.memory_mb} MB")
            if now - self.disk_checked > 0.5:
                self.disk_checked = now
                used = _disk_mb(self.dir)
                if used > self.limits.disk_mb:
                    raise WorkerFailure("disk", f"wrote {used:,.0f} MB of files, more than the disk limit of "
                                                f"{self.limits.disk_mb} MB (huge files in out/ or /tmp)")
            ready, _, _ = select.select([self.replies], [], [], min(0.2, deadline - now))
            if ready:
                chunk = self.replies.read(1 << 20)
                if not chunk:
                    raise self._died()
                self.reply_buffer += chunk
                if len(self.reply_buffer) > 16 * 2**20:
                    raise WorkerFailure("protocol", "sent an oversized reply")
        line, self.reply_buffer = self.reply_buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise WorkerFailure("protocol", "wrote something that is not a grader reply into the grader's "
                                            "reply channel")
        if message.pop("token", None) != self.token:
            raise WorkerFailure("protocol", "sent a forged reply into the grader's reply channel (one the grader's worker "
                                            "did not send); the result is not trusted")
        return message

    def _died(self) -> WorkerFailure:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return WorkerFailure("crash", "closed the grader's reply channel")
        if self.mode == "bwrap" and 128 < code < 128 + 65:   # bwrap reports its child's death by signal N as 128+N
            try:
                code = -signal.Signals(code - 128)
            except ValueError:
                pass
        if code < 0:
            name = signal.Signals(-code).name
            why = {"SIGKILL": " (often the out-of-memory killer)", "SIGSEGV": " (a crash in native code)",
                   "SIGXFSZ": " (wrote a file larger than allowed)"}.get(name, "")
            return WorkerFailure("crash", f"the process was killed by {name}{why}")
        return WorkerFailure("crash", f"the process exited with status {code} (sys.exit, os._exit or a crash)")

    # ------------------------------------------------------------ teardown
    def kill(self) -> None:
        """SIGKILL the worker and everything it started (setsid'd or not), then reap."""
        if self.proc is None:
            return
        # Freeze, then kill, and again until nothing is left: a process that keeps forking (and its
        # parent exiting) cannot outrun this, because a stopped process forks no more.
        deadline = time.monotonic() + 5
        while True:
            victims = {self.proc.pid, *_descendants(self.proc.pid)}
            victims |= {pid for pid in _children(os.getpid()) if pid not in self.preexisting}
            if self.drops_root:
                victims |= set(_pids_of_uid(SANDBOX_UID))
            victims = {pid for pid in victims if _alive(pid)}
            if not victims or time.monotonic() > deadline:
                break
            # Whole process groups first: the kernel signals every member at once and a fork in flight
            # fails, so a process that forks and exits faster than we scan /proc dies with its group.
            # The worker runs in its own session, so none of these groups can be ours.
            groups = {self.proc.pid}
            for pid in victims:
                try:
                    groups.add(os.getpgid(pid))
                except OSError:
                    pass
            groups.discard(os.getpgrp())
            for group in groups:
                try:
                    os.killpg(group, signal.SIGKILL)
                except OSError:
                    pass
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for pid in victims:
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
            self._reap()
            time.sleep(0.02)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._reap()

    def _reap(self) -> None:
        """Reap our exited children: the worker and orphans re-parented to us (we are a subreaper)."""
        for pid in _children(os.getpid()):
            if pid in self.preexisting or pid == self.proc.pid:
                continue
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def close(self) -> None:
        if self.proc is not None:   # nothing to flush in a worker: no grace period, just kill
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.kill()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
