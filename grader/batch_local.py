"""The local executor of `batch`: --jobs graders at once on this machine, each a separate `python -m grader
grade` process (so a submission can only ever cost its own row) under an outer watchdog (SIGTERM, then SIGKILL),
with a progress line on stderr; with --gpus each running grader sees one GPU, round-robin over the job slots.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import cpus
from .batch_jobs import Job, Manifest, grade_command
from .config import REPO_ROOT
from .errors import EXIT_MACHINE_BUSY
from .executors import DEFAULT_RETRIES
from .paths import DataPaths
from .progress import clock
from .sinks import terminal_text

KILL_GRACE_S = 30.0        # after SIGTERM the grader writes its report and stops its workers
INTERRUPTED = 130


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


try:
    import ctypes
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _child_preexec():
    """Runs in the child between fork and exec (so: no imports, no locks). PR_SET_PDEATHSIG: the grader
    gets SIGTERM when the thread that started it dies, e.g. when the batch is killed with SIGKILL; it then
    writes its partial report and stops its workers, instead of running on as an orphan."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM, 0, 0, 0)


class Runner:
    def __init__(self, args, config_path: Path, profile: str, watchdog_s: float, gpus: list[str], paths: DataPaths):
        self.args, self.config_path, self.profile, self.watchdog_s = args, config_path, profile, watchdog_s
        self.paths = paths
        self.slots: queue.Queue = queue.Queue()
        for i in range(args.jobs):
            self.slots.put(gpus[i % len(gpus)] if gpus else None)
        self.running: dict[int, subprocess.Popen] = {}
        self.share = cpus.available() / max(1, args.jobs)   # each grader's CPUs: the graders never oversubscribe
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def command(self, job: Job) -> list[str]:
        return grade_command(self.args, self.config_path, self.profile, job, job.folder / "report.json")

    def grade(self, job: Job) -> dict:
        """Grade one student in a subprocess; returns the manifest entry."""
        started = time.monotonic()
        entry = {"key": job.key, "folder": job.folder.name, "final": True, "report": True, "error": "",
                 "exit_code": None, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        gpu = self.slots.get()
        try:
            if self.stopping.is_set():
                return {**entry, "final": False, "error": "batch interrupted before this student started"}
            report = job.folder / "report.json"
            report.unlink(missing_ok=True)  # never mistake a stale report for this run's
            env = {**os.environ, **self.paths.environment(), cpus.SHARE_VARIABLE: f"{self.share:g}"}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
            if gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
                entry["gpu"] = gpu
            for attempt in range(1 + max(0, getattr(self.args, "retries", DEFAULT_RETRIES))):
                rc = self._run(job, env, entry)
                if rc != EXIT_MACHINE_BUSY or self.stopping.is_set():
                    break
                entry.setdefault("machine_busy", []).append(_tail(job.folder / "grade.log", 2))
            entry["exit_code"] = rc
            if entry["error"]:
                pass  # watchdog
            elif rc == EXIT_MACHINE_BUSY:
                entry.update(final=False, error="infra_error: the machine was too busy to grade some items on "
                                                f"{attempt + 1} tries (not the student's fault); rerun the batch")
            elif rc == INTERRUPTED and self.stopping.is_set():
                entry.update(final=False, error="batch interrupted while grading this student")
            elif rc != 0:  # student code cannot crash the grader (it runs in workers): a harness problem,
                entry["error"] = f"grader exited with status {rc}: {_tail(job.folder / 'grade.log', 6)}".strip()
                entry["final"] = False  # so the row says so now and the next run retries this student
            entry["report"] = report.is_file()
            if not entry["report"]:
                entry["error"] = entry["error"] or "the grader wrote no report"
        finally:
            self.slots.put(gpu)
        entry["duration_s"] = round(time.monotonic() - started, 1)
        return entry

    def _run(self, job: Job, env: dict, entry: dict) -> int:
        with open(job.folder / "grade.log", "wb") as log:
            proc = subprocess.Popen(self.command(job), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, cwd=str(REPO_ROOT),
                                    start_new_session=True, preexec_fn=_child_preexec)
            with self.lock:
                self.running[proc.pid] = proc
            try:
                return self._wait(proc, job, entry)
            finally:
                with self.lock:
                    self.running.pop(proc.pid, None)

    def _wait(self, proc: subprocess.Popen, job: Job, entry: dict) -> int:
        try:
            return proc.wait(timeout=self.watchdog_s)
        except subprocess.TimeoutExpired:
            entry["error"] = (f"the grader did not finish within the batch watchdog of {self.watchdog_s:.0f} s "
                              "(the items' CPU limits at its CPU share + margin) and was stopped")
            self.terminate(proc)
            return proc.wait()

    @staticmethod
    def terminate(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        self.stopping.set()
        with self.lock:
            procs = list(self.running.values())
        threads = [threading.Thread(target=self.terminate, args=(p,)) for p in procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


class Progress:
    """`[#####.....] 3/20 graded, 2 skipped, 1 failed | 2:13 elapsed, ETA 9:50` on stderr."""

    def __init__(self, total: int, skipped: int, jobs: int, stream=sys.stderr):
        self.total, self.skipped, self.jobs, self.stream = total, skipped, jobs, stream
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.tty = stream.isatty()

    def line(self) -> str:
        n = self.total
        frac = self.done / n if n else 1.0
        elapsed = time.monotonic() - self.started
        eta = "?" if not self.done else clock(elapsed / self.done * (n - self.done))
        bar = "#" * int(30 * frac)
        return (f"[{bar:<30}] {self.done}/{n} graded, {self.skipped} already done, {self.failed} with errors"
                f" | {clock(elapsed)} elapsed, ETA {eta if self.done < n else '0:00'}")

    def update(self, student: str | None = None, failed: bool = False, final: bool = False) -> None:
        if student is not None:
            self.done += 1
            self.failed += failed
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        elif student is not None or final:
            self.stream.write(self.line() + (f"  ({terminal_text(student)})" if student else "") + "\n")
        self.stream.flush()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def grade_locally(args, todo: list[Job], total: int, manifest: Manifest, config_path: Path, profile: str,
                   watchdog: float, gpus: list[str], paths: DataPaths) -> bool:
    """The local executor: --jobs graders at once on this machine. Returns True when interrupted."""
    print(f"{total} submissions in {args.submissions}; grading {len(todo)} with {args.jobs} job(s), "
          f"profile {profile}, watchdog {watchdog:.0f} s each"
          + (f", GPUs {','.join(gpus)}" if gpus else ""), file=sys.stderr)
    progress = Progress(len(todo), total - len(todo), args.jobs)
    runner = Runner(args, config_path, profile, watchdog, gpus, paths)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    interrupted = False
    pool = cf.ThreadPoolExecutor(max_workers=args.jobs, thread_name_prefix="grade")
    try:
        futures = {pool.submit(runner.grade, job): job for job in todo}
        pending = set(futures)
        progress.update()
        while pending:
            finished, pending = cf.wait(pending, timeout=1.0, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                job = futures[fut]
                try:
                    entry = fut.result()
                except Exception as exc:  # a bug in this loop must not lose the other students
                    entry = {"key": job.key, "folder": job.folder.name, "final": False,
                             "error": f"batch error: {type(exc).__name__}: {exc}", "exit_code": None}
                manifest.record(job.student_id, entry)  # a non-final entry shows its error and is retried
                progress.update(job.student_id, failed=bool(entry.get("error")))
            if not finished:
                progress.update()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping the running graders; rerun the same command to resume", file=sys.stderr)
        runner.stop_all()
        for fut in futures:
            fut.cancel()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        signal.signal(signal.SIGTERM, previous)
    progress.update(final=True)
    return interrupted
