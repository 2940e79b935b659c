"""python -m grader batch SUBMISSIONS --out-dir DIR: grade a whole class, resumably.

* SUBMISSIONS is anything layouts.discover reads (a folder of per-student folders or zips, or an LMS bulk
  download). Each student's model.py / pixel_shuffle.py are written to DIR/<student>/submission/ and graded
  by a SEPARATE `python -m grader grade` process writing DIR/<student>/report.json, so a submission that
  crashes, hangs or eats memory can only ever cost its own row. The grader bounds time per item itself; an
  outer watchdog (sum of the item timeouts + a margin) catches anything else (SIGTERM, then SIGKILL).
* --jobs N runs N graders at once (a thread pool driving subprocesses); with --gpus 0,1 each running
  grader sees one GPU (CUDA_VISIBLE_DEVICES), assigned round-robin to the job slots.
* Resumable: DIR/manifest.json maps student -> key (sha256 over the submission files, the grader version,
  grading.yaml's sha256 and the profile) and the outcome; it is rewritten atomically after every student.
  A rerun grades only students that are new, changed, or whose grading never finished (the batch was
  killed, or the grader exited non-zero: a harness problem); a watchdog stop is final. --force regrades all.
* Finally DIR/grades.csv and DIR/summary.html are written from all reports; a student whose grading failed
  still has a row saying why. DIR/<student> names are filesystem-safe (see safe_name), and the manifest
  records which folder belongs to which student id.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import fcntl
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import DEFAULT_CONFIG, REPO_ROOT, ConfigError, load_config
from .result import read_report, write_atomic

MANIFEST_VERSION = 1
DEFAULT_MARGIN_S = 180.0   # worker start-up (3 item groups), data check, evaluation outside the item timeouts
KILL_GRACE_S = 30.0        # after SIGTERM the grader writes its report and stops its workers
INTERRUPTED = 130
_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]")


def safe_name(student_id: str) -> str:
    """A folder name for `student_id`: kept if already safe, else sanitised + a hash of the original, so
    two different ids can never share a folder (``a/b`` and ``a_b`` stay apart)."""
    cleaned = _UNSAFE.sub("_", student_id).lstrip(".-")[:80]
    if cleaned == student_id and cleaned:
        return cleaned
    return f"{cleaned or 'student'}-{hashlib.sha256(student_id.encode()).hexdigest()[:10]}"


def submission_key(files: dict[str, bytes], config_sha256: str, profile: str, layout_error: str = "") -> str:
    h = hashlib.sha256()
    h.update(f"grader {__version__}\nconfig {config_sha256}\nprofile {profile}\nerror {layout_error}\n".encode())
    for name in sorted(files):
        h.update(f"{name} {hashlib.sha256(files[name]).hexdigest()}\n".encode())
    return h.hexdigest()


@dataclass
class Job:
    student_id: str
    folder: Path
    key: str
    files: dict[str, bytes]
    layout_error: str = ""


class Manifest:
    """DIR/manifest.json, written atomically after every change (thread-safe)."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()
        self.data = {"version": MANIFEST_VERSION, "students": {}}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict) and isinstance(loaded.get("students"), dict):
                    self.data = loaded
            except (OSError, ValueError):
                pass  # a corrupt manifest only costs regrading

    @property
    def students(self) -> dict:
        return self.data["students"]

    def done(self, job: Job) -> bool:
        entry = self.students.get(job.student_id)
        return bool(entry and entry.get("key") == job.key and entry.get("final")
                    and (entry.get("report") is False or (job.folder / "report.json").is_file()))

    def record(self, student_id: str, entry: dict) -> None:
        with self.lock:
            self.students[student_id] = entry
            self.data.update(grader_version=__version__, updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            write_atomic(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")


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
    def __init__(self, args, config_path: Path, profile: str, watchdog_s: float, gpus: list[str]):
        self.args, self.config_path, self.profile, self.watchdog_s = args, config_path, profile, watchdog_s
        self.slots: queue.Queue = queue.Queue()
        for i in range(args.jobs):
            self.slots.put(gpus[i % len(gpus)] if gpus else None)
        self.running: dict[int, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def command(self, job: Job) -> list[str]:
        cmd = [sys.executable, "-m", "grader", "grade", str(job.folder / "submission"),
               "--out", str(job.folder / "report.json"), "--profile", self.profile, "--config", str(self.config_path)]
        if self.args.sandbox:
            cmd += ["--sandbox", self.args.sandbox]
        return cmd

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
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
            if gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
                entry["gpu"] = gpu
            with open(job.folder / "grade.log", "wb") as log:
                proc = subprocess.Popen(self.command(job), stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, env=env, cwd=str(REPO_ROOT),
                                        start_new_session=True, preexec_fn=_child_preexec)
                with self.lock:
                    self.running[proc.pid] = proc
                try:
                    rc = self._wait(proc, job, entry)
                finally:
                    with self.lock:
                        self.running.pop(proc.pid, None)
            entry["exit_code"] = rc
            if entry["error"]:
                pass  # watchdog
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

    def _wait(self, proc: subprocess.Popen, job: Job, entry: dict) -> int:
        try:
            return proc.wait(timeout=self.watchdog_s)
        except subprocess.TimeoutExpired:
            entry["error"] = (f"the grader did not finish within the batch watchdog of {self.watchdog_s:.0f} s "
                              "(sum of the item timeouts + margin) and was stopped")
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

    @staticmethod
    def _clock(seconds: float) -> str:
        seconds = int(seconds)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
            f"{seconds // 60}:{seconds % 60:02d}"

    def line(self) -> str:
        n = self.total
        frac = self.done / n if n else 1.0
        elapsed = time.monotonic() - self.started
        eta = "?" if not self.done else self._clock(elapsed / self.done * (n - self.done))
        bar = "#" * int(30 * frac)
        return (f"[{bar:<30}] {self.done}/{n} graded, {self.skipped} already done, {self.failed} with errors"
                f" | {self._clock(elapsed)} elapsed, ETA {eta if self.done < n else '0:00'}")

    def update(self, student: str | None = None, failed: bool = False, final: bool = False) -> None:
        if student is not None:
            self.done += 1
            self.failed += failed
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        elif student is not None or final:
            self.stream.write(self.line() + (f"  ({student})" if student else "") + "\n")
        self.stream.flush()


def _rows(jobs: list[Job], manifest: Manifest) -> list[tuple]:
    rows = []
    for job in jobs:
        entry = manifest.students.get(job.student_id) or {}
        if entry.get("key") != job.key:
            entry = {}
        error = job.layout_error or entry.get("error", "")
        report = None
        if (job.folder / "report.json").is_file():
            try:
                report = read_report(job.folder / "report.json")
            except (OSError, ValueError, TypeError, KeyError) as exc:
                error = error or f"unreadable report.json: {exc}"
        if report is None and not error:
            error = "not graded (the batch was interrupted before this student)"
        rows.append((job.student_id, report, error))
    return rows


def _prepare(sub, out_dir: Path, config_sha: str, profile: str, names: dict[str, str]) -> Job:
    name = safe_name(sub.student_id)
    if name.lower() in names:  # case-insensitive filesystems
        name = f"{name}-{hashlib.sha256(sub.student_id.encode()).hexdigest()[:10]}"
    names[name.lower()] = sub.student_id
    folder = out_dir / name
    sub_dir = folder / "submission"
    sub_dir.mkdir(parents=True, exist_ok=True)
    for stale in sub_dir.iterdir():
        if stale.name not in sub.files and stale.is_file():
            stale.unlink()
    for fname, content in sub.files.items():
        target = sub_dir / fname
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)
    if sub.ignored:
        write_atomic(folder / "ignored_files.txt", "\n".join(sub.ignored) + "\n")
    return Job(sub.student_id, folder, submission_key(sub.files, config_sha, profile, sub.error), sub.files,
               sub.error)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_batch(args) -> int:
    from .gradebook import write_grades_csv
    from .layouts import LayoutError, discover
    from .orchestrator import resolve_profile
    from .summary import render_summary_html

    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else []
    config_path = Path(args.config or os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG).resolve()
    profile = resolve_profile(args.profile)
    config = load_config(config_path, profile)   # fail once, here, on a bad rubric
    if {"cnn.accuracy", "sr.psnr"} & {i.id for i in config.items}:
        from .data import verify
        verify()                                 # and on missing data, not once per student
    watchdog = sum(i.timeout_s for i in config.items) + args.margin
    try:
        subs = discover(args.submissions)
    except LayoutError as exc:
        raise ConfigError(str(exc)) from None

    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = open(out_dir / ".batch.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ConfigError(f"{out_dir}: another batch is running on this folder") from None

    manifest = Manifest(out_dir / "manifest.json")
    names: dict[str, str] = {}
    jobs = [_prepare(s, out_dir, config.sha256, profile, names) for s in subs]
    todo = []
    for job in jobs:
        if not args.force and manifest.done(job):
            continue
        if job.layout_error:  # nothing to run: the upload itself was unusable
            (job.folder / "report.json").unlink(missing_ok=True)
            manifest.record(job.student_id, {"key": job.key, "folder": job.folder.name, "final": True,
                                             "report": False, "error": job.layout_error, "exit_code": None})
            continue
        todo.append(job)

    print(f"{len(jobs)} submissions in {args.submissions}; grading {len(todo)} with {args.jobs} job(s), "
          f"profile {profile}, watchdog {watchdog:.0f} s each"
          + (f", GPUs {','.join(gpus)}" if gpus else ""), file=sys.stderr)
    progress = Progress(len(todo), len(jobs) - len(todo), args.jobs)
    runner = Runner(args, config_path, profile, watchdog, gpus)
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

    rows = _rows(jobs, manifest)
    write_grades_csv(rows, out_dir / "grades.csv")
    write_atomic(out_dir / "summary.html", render_summary_html(rows))
    errors = sum(1 for _, r, e in rows if r is None or e)
    print(f"wrote {out_dir / 'grades.csv'} and {out_dir / 'summary.html'} "
          f"({len(rows)} students, {errors} with errors)", file=sys.stderr)
    lock.close()
    return INTERRUPTED if interrupted else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    b = subparsers.add_parser("batch", help="grade every submission in a folder or LMS bulk download")
    b.add_argument("submissions", help="folder of per-student folders/zips, or a Gradescope/Canvas/Moodle download")
    b.add_argument("--out-dir", required=True, help="where reports, manifest.json, grades.csv and summary.html go")
    b.add_argument("--jobs", type=int, default=None, help="graders running at once (default 1, or one per GPU)")
    b.add_argument("--gpus", help="comma-separated GPU indices; each running grader gets one")
    b.add_argument("--profile", default="auto", choices=["quick", "full", "auto"],
                   help="auto = full when CUDA is available, else quick")
    b.add_argument("--config", help="rubric file (default: grading.yaml in the repo)")
    b.add_argument("--sandbox", choices=["auto", "none", "process", "bwrap"], help="default: grading.yaml's")
    b.add_argument("--force", action="store_true", help="regrade everyone, even unchanged submissions")
    b.add_argument("--margin", type=float, default=DEFAULT_MARGIN_S,
                   help="seconds added to the sum of item timeouts for the per-student watchdog")
    b.set_defaults(func=cmd_batch)
    return b


def cmd_batch(args) -> int:
    if args.jobs is None:
        args.jobs = len([g for g in (args.gpus or "").split(",") if g.strip()]) or 1
    return run_batch(args)
