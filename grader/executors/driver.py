"""The cluster driver: submit one task per student, poll, retry infrastructure failures, record everything.

A student's state lives in the manifest (batch.py's manifest.json): `submitting` (written before the
scheduler is called, with the array's name and the student's index in it, so a driver killed between
sbatch and the manifest write finds the job by name), `queued`, `running`, then final. Re-running the
same command adopts every job the scheduler still has instead of submitting it again, collects jobs that
finished while no driver was watching (their task.json says so), and resubmits only what ended unfinished.

Done means: the task's task.json says this attempt finished (the grader exited 0) and report.json exists.
A student's own timeout, crash or memory blow-up is inside that report: final, never retried. Anything
else (the job vanished, was cancelled or preempted, hit its time limit, or the grader itself failed) is an
infrastructure failure: resubmitted up to `retries` times, then the row says `infra_error`.
"""
from __future__ import annotations

import signal
import sys
import time
import uuid
from typing import Protocol

from .progress import ClusterProgress
from .task import TaskSpec
from .tracks import IN_FLIGHT, Track, clock, read_status

SETTLE_S = 5.0   # a job that ended may show its task.json a moment later on a shared filesystem


class SchedulerUnavailable(RuntimeError):
    """The scheduler did not answer this poll (slurmctld restarting, a network blip): try again later.
    Never read as "every job ended", which would resubmit the whole class."""


class Backend(Protocol):
    name: str
    chunk_size: int

    def submit(self, specs: list[TaskSpec], name: str) -> list[str]: ...
    def find(self, name: str) -> dict[int, str]: ...
    def alive(self, job_ids: list[str]) -> dict[str, str]: ...
    def end_reason(self, job_id: str) -> str: ...
    def cancel(self, job_ids: list[str]) -> None: ...
    def close(self) -> None: ...


class Driver:
    def __init__(self, backend: Backend, run, manifest, retries: int, poll_s: float, stream=sys.stderr,
                 settle_s: float = SETTLE_S):
        self.backend, self.run_info, self.manifest = backend, run, manifest
        self.retries, self.poll_s, self.stream, self.settle_s = retries, poll_s, stream, settle_s
        self.busy_s = 0.0   # the driver's own work (scheduler calls, manifest, task.json), not its sleeps

    # ------------------------------------------------------------------ manifest
    def _save(self, tracks: list[Track]) -> None:
        self.manifest.record_many({t.job.student_id: t.entry(self.backend.name) for t in tracks})

    # ------------------------------------------------------------------ resume
    def _resume(self, job) -> Track:
        prior = self.manifest.students.get(job.student_id) or {}
        t = Track.resume(job, prior, self.backend.name)
        if t.state == "new":
            if prior.get("key") != job.key and prior.get("executor") == self.backend.name \
                    and prior.get("state") in IN_FLIGHT and prior.get("job_id"):
                self.backend.cancel([prior["job_id"]])   # the student resubmitted: grade the new files only
            (job.folder / "report.json").unlink(missing_ok=True)   # never mistake an old report for this one
        return t

    def _adopt_by_name(self, tracks: list[Track]) -> None:
        """Students recorded as `submitting` but without a job id: the driver died during sbatch."""
        lost = [t for t in tracks if t.state == "submitting" and not t.job_id and t.batch]
        for name in {t.batch for t in lost}:
            found = self.backend.find(name)
            for t in lost:
                if t.batch != name:
                    continue
                status = read_status(t.job.folder)
                if t.index in found:
                    t.job_id, t.state = found[t.index], "queued"
                elif status.get("attempt") == t.attempt:   # it ran and already left the queue
                    t.job_id, t.state = status.get("job_id") or "unknown", "queued"

    # ------------------------------------------------------------------ one poll
    def _submit(self, tracks: list[Track]) -> None:
        for start in range(0, len(tracks), self.backend.chunk_size):
            chunk = tracks[start:start + self.backend.chunk_size]
            name = f"grade-{self.run_info.out_dir.name[:24]}-{uuid.uuid4().hex[:8]}"
            for i, t in enumerate(chunk):
                t.attempt += 1
                t.state, t.batch, t.index, t.job_id, t.ended_seen = "submitting", name, i, "", None
                t.submitted = time.time()
            self._save(chunk)   # before the scheduler call: a driver killed during it finds the job by name
            ids = self.backend.submit([self._spec(t) for t in chunk], name)
            for t, job_id in zip(chunk, ids):
                t.job_id, t.state = job_id, "queued"
            self._save(chunk)

    def _spec(self, t: Track) -> TaskSpec:
        folder = t.job.folder
        report = folder / f"report.attempt-{t.attempt}.json"
        return TaskSpec(t.job.student_id, str(folder), self.run_info.command(t.job, report), t.attempt,
                        self.run_info.watchdog_s, str(self.run_info.cwd), dict(self.run_info.env))

    def _check(self, t: Track, scheduler_state: str | None, now: float) -> None:
        folder = t.job.folder
        status = read_status(folder)
        mine = status.get("attempt") == t.attempt
        if mine and status.get("state") == "finished" and (folder / "report.json").is_file():
            t.state = "done"
            for leftover in folder.glob("report.attempt-*.json"):   # from attempts that were killed
                leftover.unlink(missing_ok=True)
            started, ended = status.get("started"), status.get("ended")
            t.result = {"host": str(status.get("host", "")), "started": clock(started),
                        "duration_s": round(ended - started, 1) if isinstance(started, (int, float))
                        and isinstance(ended, (int, float)) else None}
            return
        if scheduler_state is not None:
            t.ended_seen = None
            t.state = "running" if scheduler_state == "RUNNING" or (mine and status.get("state") == "running") \
                else "queued"
            return
        if t.ended_seen is None:
            t.ended_seen = now
        if now - t.ended_seen < self.settle_s:
            return
        reason = "; ".join(filter(None, [self.backend.end_reason(t.job_id), str(status.get("reason") or "")
                                         if mine else ""])) or \
            "the task ended without finishing the grade (node lost, or the task was killed)"
        t.failures += 1
        t.history.append({"attempt": t.attempt, "job_id": t.job_id, "reason": str(reason)[:500]})
        if t.failures > self.retries:
            t.state = "failed"
        else:
            t.state, t.job_id = "new", ""

    def _poll(self, tracks: list[Track]) -> None:
        live = [t for t in tracks if t.open]
        fresh = [t for t in live if not t.job_id]
        if fresh:
            self._submit(fresh)
        try:
            alive = self.backend.alive([t.job_id for t in live if t.job_id])
        except SchedulerUnavailable as exc:
            print(f"\nwarning: {exc}; polling again in {self.poll_s:g} s", file=self.stream)
            return
        now = time.monotonic()
        for t in live:
            if t.job_id:
                self._check(t, alive.get(t.job_id), now)
        self._save(live)

    # ------------------------------------------------------------------ the loop
    def run(self, jobs: list) -> bool:
        tracks = [self._resume(job) for job in jobs]
        adopted = sum(1 for t in tracks if t.job_id or t.state == "submitting")
        self._adopt_by_name(tracks)
        print(f"{self.backend.name}: {len(tracks)} to grade ({adopted} already submitted by an earlier run, "
              f"adopted), up to {self.retries} retries each after an infrastructure failure", file=self.stream)
        progress = ClusterProgress(len(tracks), self.stream)
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        interrupted = False
        try:
            while any(t.open for t in tracks):
                started = time.perf_counter()
                self._poll(tracks)
                self.busy_s += time.perf_counter() - started
                progress.update(tracks)
                if any(t.open for t in tracks):
                    time.sleep(self.poll_s)
        except KeyboardInterrupt:
            interrupted = True
            self._save([t for t in tracks if t.open])
            print(f"\ninterrupted: {sum(t.open for t in tracks)} students not collected; "
                  + ("their Slurm jobs keep running: " if self.backend.name == "slurm" else "")
                  + "rerun the same command to collect them", file=self.stream)
        finally:
            signal.signal(signal.SIGTERM, previous)
        progress.update(tracks, final=True)
        n = max(len(tracks), 1)
        print(f"driver: {self.busy_s:.2f} s of its own work for {len(tracks)} students "
              f"({1000 * self.busy_s / n:.0f} ms each: scheduler calls, manifest, task.json)", file=self.stream)
        return interrupted


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)
