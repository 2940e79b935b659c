"""The trusted orchestrator: grade one submission into one Report.

Student code only ever runs in worker processes (grader/sandbox/). This module decides the grade:
it runs each item group in a fresh worker, scores what comes back (grader/checks/), and writes the
report atomically after every group and on SIGTERM/SIGINT, so a report always exists.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__, checks, oracle
from .config import REPO_ROOT, Config
from .errors import Interrupted
from .items import SPECS, SUBMISSION_FILES, items_of
from .data import Datasets
from .provenance import grader_code_sha256
from .result import ItemResult, Report, write_report
from .sandbox import Limits, WorkerSession, resolve_mode, sandbox_note
from .sandbox.tree import remove_tree
from .submission_files import SubmittedFiles, read_submission, snapshot

ESTIMATE_NOTE = ("No GPU here: this is a `quick`-profile estimate on the CPU. The official grade uses the "
                 "`full` profile on a GPU and can differ slightly.")


def resolve_profile(profile: str) -> str:
    if profile != "auto":
        return profile
    return "full" if oracle.environment()["cuda"] else "quick"


def needs_data(config: Config) -> bool:
    """Does grading under `config` read the datasets (a trained item), so they must be verified first?"""
    return any(SPECS[item.id].trained for item in config.items)


def versions() -> dict[str, str]:
    """Installed versions, read from package metadata: this process never imports torch (see oracle.py)."""
    return {"grader": __version__, "grader_code": grader_code_sha256()[:16], "python": platform.python_version(),
            **{name: importlib.metadata.version(name) for name in ("torch", "torchvision", "einops", "numpy")}}


def describe_submission(submitted: SubmittedFiles) -> dict:
    files = [{"name": name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
             for name, content in submitted.contents.items()]
    return {"path": str(submitted.folder), "files": files}


def secrets(data: Datasets, out: str | Path | None = None) -> dict[str, str]:
    """Files student code must not read, and what they hold (the report names any it could read)."""
    found = {} if data is None else {
        str(data.paths.data): "the graded data, MNIST test labels and held-out images included"}
    if (REPO_ROOT / "reference").is_dir():
        found[str(REPO_ROOT / "reference")] = "the reference solution"
    if out:   # student code can find it in our command line; in a batch classmates' folders sit next to it
        found[str(Path(out).resolve().parent)] = ("the folder of this report (in a batch, next to classmates' code "
                                                  "and reports)")
    return found


@contextmanager
def interruptible():
    """Turn SIGTERM/SIGINT into an exception so the report of what finished is still written."""
    def handler(signum, frame):
        raise Interrupted(signal.Signals(signum).name)
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def grade(submission: str | Path, config: Config, data: Datasets, out: str | Path | None = None,
          sandbox: str | None = None, progress: Callable[[str, int, int], None] | None = None,
          seed: int = checks.TRAIN_SEED) -> Report:
    """Grade the folder `submission` (model.py, pixel_shuffle.py) under `config` with `data`;
    write `out` if given."""
    started = time.monotonic()
    submission = Path(submission).resolve()
    submitted = read_submission(submission, SUBMISSION_FILES)   # the one read: everything below uses these bytes
    mode = resolve_mode(sandbox or config.sandbox)
    use_cuda = config.device == "cuda" and oracle.environment()["cuda"]
    results = {item.id: ItemResult(item.id, item.name, item.points, visibility=item.visibility)
               .not_graded("grading stopped before this item ran") for item in config.items}
    report = Report(
        score=0.0, max_score=config.max_score, profile=config.profile, device="cuda" if use_cuda else "cpu",
        versions=versions(), duration_s=0.0, submission=describe_submission(submitted),
        tests=list(results.values()), sandbox=mode, sandbox_note=sandbox_note(mode, secrets(data, out)), complete=False,
        determinism={"train_seed": seed, "use_deterministic_algorithms": True,
                     "cudnn_benchmark": False, "threads": 2, "PYTHONHASHSEED": 0,
                     "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
                     "note": "MNIST batches and SR patches come from seeded torch.Generators"},
        config={"path": str(config.path), "sha256": config.sha256},
        estimate_note="" if use_cuda else (ESTIMATE_NOTE if config.profile == "quick" else
                                           "No GPU here: the `full` profile ran on the CPU."),
    )

    def save():
        report.recompute_score()
        report.duration_s = round(time.monotonic() - started, 2)
        if out:
            write_report(report, out)

    private = snapshot(submitted)   # the workers and the static check read this copy, never the student's folder
    limits = Limits(memory_mb=config.memory_limit_mb, output_kb=config.output_limit_kb, use_cuda=use_cuda)
    secret = np.random.default_rng()   # unseeded on purpose: how test and held-out images are mixed is secret
    try:
        with interruptible():
            for group, score_group in checks.GROUPS.items():
                owned = {i: results[i] for i in items_of(group) if i in results}
                for item_id, item in list(owned.items()):
                    needed = SPECS[item_id].file
                    if needed in submitted.problems:
                        item.error(file_problem(submitted, needed))
                        del owned[item_id]
                if not owned:
                    continue
                with WorkerSession(private, mode, limits) as session:
                    run = checks.Run(config, data, owned, session, progress or (lambda *a: None), secret, seed,
                                     submission=private,
                                     new_session=lambda: WorkerSession(private, mode, limits))
                    score_group(run)
                for item in owned.values():
                    if not item.graded:   # a group that forgets an item is a grader bug, never a silent pass
                        item.error(f"not graded: the grader's `{group}` group did not score this item "
                                   f"(a bug in grader/checks/{group}.py)")
                report.flags.extend(f for f in dict.fromkeys(run.flags) if f not in report.flags)
                report.images.extend(run.images)
                save()
            report.complete = True
    except Interrupted as signal_name:
        for item in results.values():
            if not item.graded:
                item.not_graded(f"the grader received {signal_name} before this item finished")
        save()
        raise
    except Exception as exc:  # a harness bug must still leave a report naming it
        for item in results.values():
            if not item.graded:
                item.not_graded(f"internal grader error ({type(exc).__name__}: {exc})")
        save()
        raise
    finally:
        remove_tree(private)
    save()
    return report


def file_problem(submitted: SubmittedFiles, name: str) -> str:
    """Why the items of `name` were not run, in a student's terms."""
    others = " and ".join(n for n in SUBMISSION_FILES if n != name)
    if submitted.problems[name] == f"{name} is missing":
        return f"{name} is missing from {submitted.folder}: expected the file {name} next to {others}"
    return f"{submitted.problems[name]} (in {submitted.folder}); this item was not run"
