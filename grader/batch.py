"""python -m grader batch SUBMISSIONS --out-dir DIR: grade a whole class, resumably.

* SUBMISSIONS is anything layouts.discover reads (a folder of per-student folders or zips, or an LMS bulk
  download). Each student's model.py / pixel_shuffle.py are written to DIR/<student>/submission/ and graded
  by a SEPARATE `python -m grader grade` process writing DIR/<student>/report.json, so a submission that
  crashes, hangs or eats memory can only ever cost its own row. The grader bounds time per item itself; an
  outer watchdog (the items' CPU limits at the grader's CPU share, + a margin) catches anything else (SIGTERM, then SIGKILL).
* --executor slurm|ray grades one student per cluster task instead (grader/executors/), with the same
  command, manifest, grades.csv and summary.html; the default, local, is what the rest of this describes.
* --jobs N runs N graders at once (a thread pool driving subprocesses); with --gpus 0,1 each running
  grader sees one GPU (CUDA_VISIBLE_DEVICES), assigned round-robin to the job slots.
* Resumable: DIR/manifest.json maps student -> key (sha256 over the submission files, the grader's code
  hash (grader/provenance.py), grading.yaml's sha256 and the profile) and the outcome; it is rewritten
  atomically after every student.
  A rerun grades only students that are new, changed, or whose grading never finished (the batch was
  killed, or the grader exited non-zero: a harness problem); a watchdog stop is final. --force regrades all.
* Finally DIR/grades.csv, DIR/summary.html, DIR/similarity.csv and each DIR/<student>/report.html are
  written from all reports (grader/pages); a student whose grading failed still has a row saying why.
  DIR/<student> names are filesystem-safe (see safe_name), and the manifest records which folder belongs
  to which student id.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import fcntl
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__, cpus
from .errors import EXIT_MACHINE_BUSY
from .executors import DEFAULT_RETRIES
from .config import DEFAULT_CONFIG, PROFILE_CHOICES, REPO_ROOT, SANDBOXES, ConfigError, load_config
from .items import SPECS
from .paths import DataPaths
from .progress import clock
from .provenance import grader_code_sha256
from .result import read_report, write_atomic
from .sandbox import MODES, resolve_mode
from .sinks import path_component, terminal_text

MANIFEST_VERSION = 1
DEFAULT_MARGIN_S = 180.0   # worker start-up (3 item groups), data check, evaluation outside the item timeouts
KILL_GRACE_S = 30.0        # after SIGTERM the grader writes its report and stops its workers
INTERRUPTED = 130
safe_name = path_component   # DIR/<student>: the one path sink (grader/sinks.py)


def submission_key(files: dict[str, bytes], config_sha256: str, profile: str, layout_error: str = "") -> str:
    """Same key, same grade: the student's files, the grader's code, the rubric and the profile."""
    h = hashlib.sha256()
    h.update(f"grader {__version__} {grader_code_sha256()}\nconfig {config_sha256}\nprofile {profile}\n"
             f"error {layout_error}\n".encode())
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
        self.record_many({student_id: entry})

    def record_many(self, entries: dict[str, dict]) -> None:
        """One atomic rewrite for many students (a cluster driver updates hundreds per poll)."""
        with self.lock:
            self.students.update(entries)
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


def grade_command(args, config_path: Path, profile: str, job: Job, report: Path) -> list[str]:
    """The one grading command, for the local executor and for every cluster task."""
    cmd = [sys.executable, "-m", "grader", "grade", str(job.folder / "submission"),
           "--out", str(report), "--profile", profile, "--config", str(config_path)]
    if args.sandbox:
        cmd += ["--sandbox", args.sandbox]
    return cmd


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


def _rows(jobs: list[Job], manifest: Manifest) -> list[tuple]:
    rows = []
    for job in jobs:
        entry = manifest.students.get(job.student_id) or {}
        current = entry.get("key") == job.key   # else report.json, if any, grades an earlier submission
        if not current:
            entry = {}
        error = job.layout_error or entry.get("error", "")
        report = None
        if current and (job.folder / "report.json").is_file():
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
        name = f"{name}-{hashlib.sha256(sub.student_id.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"
    names[name.lower()] = sub.student_id
    folder = out_dir / name
    sub_dir = folder / "submission"
    sub_dir.mkdir(parents=True, exist_ok=True)
    for private in (folder, sub_dir):   # unreadable to the sandbox uid (see run_batch), whatever the umask
        private.chmod(0o700)
    for stale in sub_dir.iterdir():
        if stale.name not in sub.files and stale.is_file():
            stale.unlink()
    for fname, content in sub.files.items():
        target = sub_dir / fname
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)
    if sub.ignored:
        write_atomic(folder / "ignored_files.txt", "\n".join(terminal_text(n, limit=1000) for n in sub.ignored) + "\n")
    return Job(sub.student_id, folder, submission_key(sub.files, config_sha, profile, sub.error), sub.files,
               sub.error)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _grade_locally(args, todo: list[Job], total: int, manifest: Manifest, config_path: Path, profile: str,
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


def _grade_on_cluster(args, todo: list[Job], manifest: Manifest, out_dir: Path, config, config_path: Path,
                      profile: str, watchdog: float, paths: DataPaths) -> bool:
    """--executor slurm|ray: one cluster task per student, running the same grade command (executors/)."""
    from .executors import ClusterRun, run_on_cluster
    print(f"{len(todo)} submissions to grade on {args.executor}, profile {profile}, "
          f"grader watchdog {watchdog:.0f} s each", file=sys.stderr)
    run = ClusterRun(
        out_dir=out_dir, command=lambda job, report: grade_command(args, config_path, profile, job, report),
        watchdog_s=watchdog, needs_gpu=config.device == "cuda", memory_limit_mb=config.memory_limit_mb,
        paths=paths, sr_factors=[i.upscale_factor for i in config.items if SPECS[i.id].upscaled], cwd=REPO_ROOT,
        env={**paths.environment(),
             "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))})
    return run_on_cluster(args, todo, manifest, run)


def _warn_if_uploads_are_exposed(args, config) -> None:
    """Student code in process mode (as root: another uid, no mount isolation) can read this batch's
    command line, so it knows SUBMISSIONS. The out-dir is made private below; the uploads are the
    instructor's folder, so say so when every user may read them."""
    from .sandbox.modes import drops_root, readable_by_everyone
    try:
        mode = resolve_mode(args.sandbox or config.sandbox)
    except (RuntimeError, ValueError):
        return   # each grader says why itself
    if drops_root(mode) and readable_by_everyone(args.submissions):
        print(f"WARNING: every user may read {terminal_text(args.submissions)}, so student code in process mode "
              f"can read classmates' uploads there; make it unreadable to other users (chmod o-rwx) or use "
              f"--sandbox bwrap", file=sys.stderr)


def run_batch(args) -> int:
    from .gradebook import write_grades_csv
    from .layouts import LayoutError, discover
    from .orchestrator import needs_data, resolve_profile
    from .pages import write_class_pages
    from .similarity import load_settings

    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else []
    config_path = Path(args.config or os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG).resolve()
    # on a cluster the nodes, not this machine, decide: auto means the GPU profile there
    profile = resolve_profile(args.profile) if args.executor == "local" or args.profile != "auto" else "full"
    config = load_config(config_path, profile)   # fail once, here, on a bad rubric
    load_settings(config_path)                   # (its similarity section too)
    if args.executor == "local":                 # and where no sandbox can run, not once per student
        resolve_mode(args.sandbox or config.sandbox)
    paths = DataPaths.from_environment()
    if needs_data(config):
        from .data import verify
        verify(paths.data)                       # and on missing data, not once per student
    watchdog = config.wall_budget_s(cpus.available() / max(1, args.jobs)) + args.margin
    try:
        subs = discover(args.submissions)
    except LayoutError as exc:
        raise ConfigError(str(exc)) from None
    _warn_if_uploads_are_exposed(args, config)

    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # Student code in `process` mode runs as another uid on this machine and can read our command line, so
    # it knows this folder: only the grader may enter it (each report's sandbox note names it otherwise).
    try:
        out_dir.chmod(0o700)
    except PermissionError:
        print(f"warning: cannot make {terminal_text(out_dir)} private (not its owner): student code in process "
              f"mode may read classmates' files there", file=sys.stderr)
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

    if args.executor == "local":
        interrupted = _grade_locally(args, todo, len(jobs), manifest, config_path, profile, watchdog, gpus, paths)
    else:
        interrupted = _grade_on_cluster(args, todo, manifest, out_dir, config, config_path, profile, watchdog,
                                        paths)

    rows = _rows(jobs, manifest)
    write_grades_csv(rows, out_dir / "grades.csv")
    write_class_pages(out_dir, rows, {job.student_id: job.folder for job in jobs}, config_path, profile)
    errors = sum(1 for _, r, e in rows if r is None or e)
    print(f"wrote {out_dir / 'grades.csv'}, {out_dir / 'summary.html'}, {out_dir / 'similarity.csv'} and each "
          f"student's report.html ({len(rows)} students, {errors} with errors)", file=sys.stderr)
    lock.close()
    return INTERRUPTED if interrupted else 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    b = subparsers.add_parser("batch", help="grade every submission in a folder or LMS bulk download")
    b.add_argument("submissions", help="folder of per-student folders/zips, or a Gradescope/Canvas/Moodle download")
    b.add_argument("--out-dir", required=True, help="where reports, manifest.json, grades.csv and summary.html go")
    b.add_argument("--jobs", type=int, default=None,
                   help="graders running at once (default: one per CPU this process may use, or one per GPU)")
    b.add_argument("--gpus", help="comma-separated GPU indices; each running grader gets one")
    b.add_argument("--profile", default="auto", choices=PROFILE_CHOICES,
                   help="auto = full when CUDA is available, else quick")
    b.add_argument("--config", help="rubric file (default: grading.yaml in the repo)")
    b.add_argument("--sandbox", choices=SANDBOXES, help="default: grading.yaml's")
    b.add_argument("--force", action="store_true", help="regrade everyone, even unchanged submissions")
    b.add_argument("--margin", type=float, default=DEFAULT_MARGIN_S,
                   help="seconds added to the per-student watchdog (the items' CPU limits at each grader's CPU share)")
    from .executors import add_arguments
    add_arguments(b)
    b.set_defaults(func=cmd_batch)
    return b


def cmd_batch(args) -> int:
    if args.jobs is None:
        args.jobs = len([g for g in (args.gpus or "").split(",") if g.strip()]) or cpus.slots()
    return run_batch(args)
