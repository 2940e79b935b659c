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
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__, checks, cpus, oracle
from .config import REPO_ROOT, Config
from .errors import Interrupted
from .items import SPECS, SUBMISSION_FILES, items_of
from .data import Datasets
from .provenance import grader_code_sha256
from .result import ItemResult, Report, write_report
from .sandbox import Limits, WorkerSession, resolve_mode, sandbox_note
from .sandbox.launch import determinism
from .sandbox.tree import remove_tree
from .submission_files import SubmittedFiles, read_submission, snapshot


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
    """Turn SIGTERM/SIGINT into an exception so the report of what finished is still written and every worker
    is stopped. Only the first counts: one that arrived during that clean-up, raised there or (once the default
    action was back) killing the grader, left workers running as the sandbox uid."""
    received: list[str] = []

    def handler(signum, frame):
        if received:   # a Ray worker killed with SIGKILL: its child got SIGTERM 3 times in a second (measured)
            return
        received.append(signal.Signals(signum).name)
        raise Interrupted(received[0])
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


GRADER_MB, EXTRA_WORKER_MB = 700, 400   # measured in a cgroup: one grade with one worker peaks at 672 MB, two at 1057


def parallel_groups(groups: int) -> int:
    """How many item groups run side by side: one per whole CPU this process may use (cpus.py), so a grade
    never oversubscribes (a 0.5-CPU container runs them one after the other), and no more than a cgroup's
    memory limit holds (768 MB: one)."""
    memory = cpus.cgroup_memory_mb()
    by_memory = groups if memory is None else 1 + int(max(0.0, memory - GRADER_MB) // EXTRA_WORKER_MB)
    return max(1, min(groups, cpus.slots(), by_memory))


def grade(submission: str | Path, config: Config, data: Datasets, out: str | Path | None = None,
          sandbox: str | None = None, progress: Callable[[str, int, int], None] | None = None,
          seed: int = checks.TRAIN_SEED, rewrite: Callable[[Report], None] | None = None) -> Report:
    """Grade the folder `submission` (model.py, pixel_shuffle.py) under `config` with `data`; write `out` if
    given. `rewrite` edits the report before each save (a notebook's: grader/notebook/)."""
    started = time.monotonic()
    submission = Path(submission).resolve()
    submitted = read_submission(submission, SUBMISSION_FILES)   # the one read: everything below uses these bytes
    mode = resolve_mode(sandbox or config.sandbox)
    use_cuda = config.device == "cuda" and oracle.environment()["cuda"]
    results = {item.id: ItemResult(item.id, item.name, item.points, visibility=item.visibility)
               .not_graded("grading stopped before this item ran") for item in config.items}
    todo = [g for g in checks.GROUPS if any(i in results for i in items_of(g))]
    side_by_side = parallel_groups(len(todo))
    limits = Limits(memory_mb=config.memory_limit_mb, output_kb=config.output_limit_kb, use_cuda=use_cuda,
                    cpu_share=min(1.0, cpus.available() / side_by_side))
    report = Report(
        score=0.0, max_score=config.max_score, profile=config.profile, device="cuda" if use_cuda else "cpu",
        versions=versions(), duration_s=0.0, submission=describe_submission(submitted),
        tests=list(results.values()), sandbox=mode, sandbox_note=sandbox_note(mode, secrets(data, out)), complete=False,
        determinism=determinism(limits, seed), config={"path": str(config.path), "sha256": config.sha256},
        estimate_note="" if use_cuda or config.profile == "quick" else "No GPU here: the `full` profile ran on the CPU.",
    )

    def save():
        report.tests = list(results.values())   # a finished group's results replace its placeholders
        report.recompute_score()
        report.duration_s = round(time.monotonic() - started, 2)
        if rewrite:
            rewrite(report)
        if out:
            write_report(report, out)

    private = snapshot(submitted)   # the workers and the static check read this copy, never the student's folder
    sessions = Sessions(private, mode, limits)
    with interruptible():   # held through the clean-up too: a second signal must not cut it short
        try:
            runnable = {}
            for group in todo:
                owned = {i: results[i] for i in items_of(group) if i in results}
                for item_id, item in list(owned.items()):
                    needed = SPECS[item_id].file
                    if needed in submitted.problems:
                        item.error(file_problem(submitted, needed))
                        del owned[item_id]
                if owned:
                    checks.PREPARE[group](config, data)   # decode its data before any worker starts
                    runnable[group] = owned
            pool = ThreadPoolExecutor(side_by_side, thread_name_prefix="group")
            try:
                pending = {pool.submit(grade_group, group, owned, config, data, sessions, progress, seed): group
                           for group, owned in sorted(runnable.items(), key=lambda g: -checks.WEIGHT[g[0]])}
                while pending:
                    done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        del pending[future]
                        run = future.result()
                        report.flags.extend(f for f in dict.fromkeys(run.flags) if f not in report.flags)
                        report.images.extend(run.images)
                        results.update(run.results)
                        report.starved += [i for i in run.starved if not run.results[i].graded]
                        report.calls = sessions.log()
                        save()
            except BaseException:
                finished = sessions.graded_items()   # what running groups finished before this, kept
                sessions.stop_all()   # before waiting for the groups' threads: their workers end now
                pool.shutdown(wait=True, cancel_futures=True)
                results.update(finished)
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            report.complete = all(t.graded for t in results.values())
        except (Interrupted, Exception) as exc:  # a signal, or a harness bug, must still leave a report naming it
            sessions.stop_all()
            why = (f"the grader received {exc} before this item finished" if isinstance(exc, Interrupted)
                   else f"internal grader error ({type(exc).__name__}: {exc})")
            for item in results.values():
                if not item.graded:
                    item.not_graded(why)
            save()
            raise
        finally:
            remove_tree(private)
    save()
    return report


def grade_group(group: str, owned: dict[str, ItemResult], config: Config, data: Datasets, sessions: "Sessions",
                progress, seed: int, attempts: int = 2) -> checks.Run:
    """Score one item group in fresh workers; a group whose worker the machine starved (never the student's
    fault) is graded again from scratch, once, like a lost node; if it starves again its items stay ungraded."""
    for attempt in range(attempts):
        fresh = {i: ItemResult(r.id, r.name, r.max_score, visibility=r.visibility) for i, r in owned.items()}
        sessions.scoring[group] = fresh
        new_session = lambda: sessions.new(group)   # noqa: E731
        with new_session() as session:
            run = checks.Run(config, data, fresh, session, progress or (lambda *a: None), np.random.default_rng(),
                             seed, submission=sessions.submission, new_session=new_session)
            checks.GROUPS[group](run)
        if not run.starved:
            break
    for item_id, item in run.results.items():
        if run.starved and item_id in run.starved:
            item.not_graded(run.starved[item_id])
        elif not item.graded:   # a group that forgets an item is a grader bug, never a silent pass
            item.error(f"not graded: the grader's `{group}` group did not score this item "
                       f"(a bug in grader/checks/{group}.py)")
    return run


class Sessions:
    """Every worker session of one grade, so that an interrupt can end them all at once from the main thread."""

    def __init__(self, submission: Path, mode: str, limits: Limits):
        self.submission, self.mode, self.limits = submission, mode, limits
        self.made: list[tuple[str, WorkerSession]] = []   # (group, session), in the order they were made
        self.scoring: dict[str, dict[str, ItemResult]] = {}   # group -> the results its thread is filling in
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def new(self, group: str) -> WorkerSession:
        if self.stopped.is_set():
            raise Interrupted("stop")
        session = WorkerSession(self.submission, self.mode, self.limits, stopped=self.stopped)
        with self.lock:
            self.made.append((group, session))
        return session

    def stop_all(self) -> None:
        self.stopped.set()
        with self.lock:
            made = [session for _, session in self.made]
        for session in made:
            session.kill()

    def graded_items(self) -> dict[str, ItemResult]:
        """The items running groups have scored so far (an interrupted grade keeps them)."""
        return {i: r for fresh in list(self.scoring.values()) for i, r in list(fresh.items()) if r.graded}

    def log(self) -> list[dict]:
        """Every worker start and call of the grade, with its wall and CPU time (bench/grade_bench.py reads it)."""
        with self.lock:
            return [{"group": group, **entry} for group, session in self.made for entry in session.log]


def file_problem(submitted: SubmittedFiles, name: str) -> str:
    """Why the items of `name` were not run, in a student's terms."""
    others = " and ".join(n for n in SUBMISSION_FILES if n != name)
    if submitted.problems[name] == f"{name} is missing":
        return f"{name} is missing from {submitted.folder}: expected the file {name} next to {others}"
    return f"{submitted.problems[name]} (in {submitted.folder}); this item was not run"
