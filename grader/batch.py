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

This module is the command and its steps; the jobs and the manifest are grader/batch_jobs.py, the local
executor grader/batch_local.py.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import sys
from pathlib import Path

from . import cpus
from .batch_jobs import Job, Manifest, grade_command, prepare, rows, safe_name, submission_key  # noqa: F401
from .batch_local import INTERRUPTED, Runner, grade_locally  # noqa: F401  (tests, bench import them from here)
from .config import DEFAULT_CONFIG, PROFILE_CHOICES, REPO_ROOT, SANDBOXES, ConfigError, load_config
from .items import SPECS
from .paths import DataPaths
from .sandbox import resolve_mode
from .sinks import terminal_text

DEFAULT_MARGIN_S = 180.0   # worker start-up (3 item groups), data check, evaluation outside the item timeouts


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
    jobs = [prepare(s, out_dir, config.sha256, profile, names) for s in subs]
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
        interrupted = grade_locally(args, todo, len(jobs), manifest, config_path, profile, watchdog, gpus, paths)
    else:
        interrupted = _grade_on_cluster(args, todo, manifest, out_dir, config, config_path, profile, watchdog,
                                        paths)

    table = rows(jobs, manifest)
    write_grades_csv(table, out_dir / "grades.csv")
    write_class_pages(out_dir, table, {job.student_id: job.folder for job in jobs}, config_path, profile)
    errors = sum(1 for _, r, e in table if r is None or e)
    print(f"wrote {out_dir / 'grades.csv'}, {out_dir / 'summary.html'}, {out_dir / 'similarity.csv'} and each "
          f"student's report.html ({len(table)} students, {errors} with errors)", file=sys.stderr)
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
