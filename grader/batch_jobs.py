"""A batch's students: each one's job (folder, resume key, grading command) and DIR/manifest.json.

The key is sha256 over the submission files, the grader's code hash (grader/provenance.py), grading.yaml's
sha256 and the profile: same key, same grade. The manifest maps student -> key and outcome, rewritten
atomically after every student; a student's row in grades.csv is read from it and the student's report.json.
DIR/<student> names are filesystem-safe (safe_name), and the manifest records which folder belongs to which
student id.
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .provenance import grader_code_sha256
from .result import read_report, write_atomic
from .sinks import path_component, terminal_text

MANIFEST_VERSION = 1
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


def grade_command(args, config_path: Path, profile: str, job: Job, report: Path) -> list[str]:
    """The one grading command, for the local executor and for every cluster task."""
    cmd = [sys.executable, "-m", "grader", "grade", str(job.folder / "submission"),
           "--out", str(report), "--profile", profile, "--config", str(config_path)]
    if args.sandbox:
        cmd += ["--sandbox", args.sandbox]
    return cmd


def rows(jobs: list[Job], manifest: Manifest) -> list[tuple]:
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


def prepare(sub, out_dir: Path, config_sha: str, profile: str, names: dict[str, str]) -> Job:
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
