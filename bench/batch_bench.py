"""Throughput of `python -m grader batch` per executor (local, slurm, ray), side by side, in one run.

    python bench/batch_bench.py [--n 6] [--reference 2] [--slots 2] [--mnist-steps 20] [--sr-steps 5]

The same N submissions (`--reference` copies of the reference, graded in full with tests/conftest.py's
fast rubric; the rest broken in rotating ways that fail fast) go through each executor with `--slots`
graders at once: `--jobs` locally, that many CPUs on a single-node Slurm, that many CPUs on a local Ray
head. As root with slurm-wlm and munge installed the bench starts its own Slurm (tests/cluster/
slurm_cluster.py); with ray installed it starts its own Ray head; otherwise that executor is skipped.

Printed per executor:
* submissions/hour: N / the batch's wall time (the class is tiny, so start-up weighs in: a lower bound);
* driver CPU per submission: the driver process's own CPU time (scheduling, polling, manifest, reading
  task.json and the reports, grades.csv), not its graders' (they are not its children on a cluster, and
  are excluded locally);
* task overhead: mean of (the task's wall time - the grader's own duration_s): the interpreter and the
  `grader grade` imports before the grader's clock starts, per task;
* dispatch: on a cluster, (task start - submission), shortest and median: sbatch or Ray scheduling,
  slurmstepd/srun or the Ray worker's start, submitit unpickling the task (the shortest: with a slot free).
Needs GRADER_DATA_DIR (defaults to ../shared/datasets if present).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cluster import ray_cluster, slurm_cluster  # noqa: E402
from conftest import fast_rubric, write_submission  # noqa: E402

REF_MODEL = (ROOT / "reference" / "model.py").read_text()
BROKEN = [
    ("syntax", {"model": "def oops(:\n"}),
    ("stub", {"model": "class CNN:\n    def __init__(self):\n        raise NotImplementedError\n\n"
                       "class Net:\n    def __init__(self, upscale_factor):\n        raise NotImplementedError\n",
              "pixel_shuffle": "def pixel_shuffle(x, r):\n    raise NotImplementedError\n"}),
    ("crash", {"model": REF_MODEL.replace("class CNN", "import os as _os\nclass CNN", 1).replace(
        "    def forward(self, x", "    def forward(self, x, *_a):\n        _os._exit(3)\n    def _unused(self, x", 1)}),
    ("missing", {"pixel_shuffle": None, "drop": "pixel_shuffle.py"}),
]
# The driver's own CPU time, printed as it exits (RUSAGE_SELF: its threads, not its child processes).
DRIVER = ("import resource, sys; from grader.__main__ import main; rc = main(sys.argv[1:]); "
          "me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)); "
          "print(f'DRIVER_CPU {me.ru_utime + me.ru_stime:.3f} {kids.ru_utime + kids.ru_stime:.3f}', "
          "file=sys.stderr); sys.exit(rc)")


def build(root: Path, n: int, n_ref: int) -> Path:
    subs = root / "submissions"
    for i in range(n):
        if i < n_ref:
            write_submission(subs / f"s{i:02d}_reference")
        else:
            name, spec = BROKEN[(i - n_ref) % len(BROKEN)]
            folder = write_submission(subs / f"s{i:02d}_{name}", spec.get("model"), spec.get("pixel_shuffle"))
            if spec.get("drop"):
                (folder / spec["drop"]).unlink()
    return subs


def task_overheads(out: Path) -> tuple[list[float], list[float]]:
    """Per student: (the task's or local grader's wall time - the grader's own duration), and on a cluster
    (task start - submission): the dispatch latency, whose minimum is the latency with a free slot."""
    gaps, dispatch = [], []
    for entry in json.loads((out / "manifest.json").read_text())["students"].values():
        report = out / entry["folder"] / "report.json"
        if entry.get("duration_s") is not None and report.is_file():
            gaps.append(entry["duration_s"] - json.loads(report.read_text())["duration_s"])
        task = out / entry["folder"] / "task.json"
        if entry.get("submitted") and task.is_file():
            dispatch.append(json.loads(task.read_text())["started"] - entry["submitted"])
    return gaps, dispatch


def run(subs: Path, out: Path, rubric: Path, extra: list[str], env: dict) -> dict:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", DRIVER, "batch", str(subs), "--out-dir", str(out),
                           "--profile", "quick", "--config", str(rubric), "--sandbox", "process", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"batch {' '.join(extra[:2])} failed:\n{proc.stderr[-3000:]}")
    own, children = (float(x) for x in proc.stderr.rsplit("DRIVER_CPU ", 1)[1].split()[:2])
    n = len(json.loads((out / "manifest.json").read_text())["students"])
    gaps, dispatch = task_overheads(out)
    return {"wall": wall, "per_hour": n / wall * 3600, "driver_ms": 1000 * own / n, "children_ms": 1000 * children / n,
            "task_overhead": statistics.mean(gaps) if gaps else float("nan"),
            "dispatch": (min(dispatch), statistics.median(dispatch)) if dispatch else (float("nan"),) * 2,
            "csv": (out / "grades.csv").read_text()}


def bookkeeping_per_poll(n: int, root: Path) -> float:
    """Seconds the driver spends on one poll for a class of n, scheduler call excluded: every student's
    task.json read and checked, the manifest rewritten (one atomic write)."""
    from types import SimpleNamespace

    from grader.batch import Job, Manifest
    from grader.executors.driver import Driver
    from grader.executors.tracks import Track
    tracks = []
    for i in range(n):
        folder = root / f"student{i:04d}"
        folder.mkdir(parents=True)
        (folder / "task.json").write_text(json.dumps({"attempt": 1, "state": "running", "started": time.time()}))
        tracks.append(Track(Job(f"student{i:04d}", folder, f"{i:064x}", {}), attempt=1, job_id=f"1000_{i}",
                            state="running", batch="grade-x", index=i, submitted=time.time()))
    backend = SimpleNamespace(name="slurm", alive=lambda ids: {i: "RUNNING" for i in ids})
    driver = Driver(backend, SimpleNamespace(out_dir=root), Manifest(root / "manifest.json"), retries=2, poll_s=0)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        driver._poll(tracks)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--reference", type=int, default=2, help="how many of the N are the reference solution")
    ap.add_argument("--slots", type=int, default=2, help="graders at once, for every executor")
    ap.add_argument("--mnist-steps", type=int, default=20)
    ap.add_argument("--sr-steps", type=int, default=5)
    args = ap.parse_args()
    shared = ROOT.parent / "shared" / "datasets"
    if not os.environ.get("GRADER_DATA_DIR") and shared.is_dir():
        os.environ["GRADER_DATA_DIR"] = str(shared)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        tmp = Path(tmp)
        rubric = fast_rubric(tmp / "fast.yaml", mnist_steps=args.mnist_steps, sr_steps=args.sr_steps)
        # a 2 GB worker cap (plenty for these models): a Ray task then reserves 4 GB, and 2 fit on this machine
        rubric.write_text(rubric.read_text().replace("memory_limit_mb: 6144", "memory_limit_mb: 2048"))
        subs = build(tmp, args.n, args.reference)
        print(f"{args.n} submissions ({args.reference} reference, {args.n - args.reference} broken); fast rubric "
              f"(quick profile, {args.mnist_steps} MNIST / {args.sr_steps} SR steps); {args.slots} graders at once; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
        results, skipped, clusters = {}, {}, []
        try:
            results["local"] = run(subs, tmp / "local", rubric, ["--executor", "local", "--jobs", str(args.slots)], env)
            if slurm_cluster.missing_binaries() or os.geteuid() != 0:
                skipped["slurm"] = f"needs root and {slurm_cluster.INSTALL_HINT}"
            else:
                slurm = slurm_cluster.start(tmp / "slurm", cpus=args.slots, gpus=args.slots, max_array=1001)
                clusters.append(slurm)
                results["slurm"] = run(subs, tmp / "slurm-out", rubric, [
                    "--executor", "slurm", "--slurm-cpus-per-task", "1", "--poll-s", "1"], {**env, **slurm.env})
            try:
                head = ray_cluster.start(env, cpus=args.slots, gpus=0)
                clusters.append(head)
                results["ray"] = run(subs, tmp / "ray-out", rubric, [
                    "--executor", "ray", "--ray-address", head.address, "--ray-cpus-per-task", "1",
                    "--poll-s", "1"], env)
            except (RuntimeError, FileNotFoundError) as exc:
                skipped["ray"] = f"pip install 'cnn-practical-grader[ray]' ({str(exc)[:80]})"
        finally:
            for cluster in clusters:
                cluster.stop()
        per_poll = bookkeeping_per_poll(2000, tmp / "class2000")
        base = results["local"]
        print(f"\n{'executor':<8} {'wall s':>7} {'subs/hour':>9} {'vs local':>8} {'driver CPU/sub':>15} "
              f"{'task overhead':>14} {'dispatch min/median':>20}  same scores")
        for name, r in results.items():
            same = _scores(r["csv"]) == _scores(base["csv"])
            extra = f" (+{r['children_ms']:.0f} ms sbatch/squeue)" if name == "slurm" else ""
            print(f"{name:<8} {r['wall']:7.1f} {r['per_hour']:9.0f} {r['per_hour'] / base['per_hour']:7.2f}x "
                  f"{r['driver_ms']:12.0f} ms {r['task_overhead']:12.1f} s {r['dispatch'][0]:8.1f} / {r['dispatch'][1]:5.1f} s  {same}{extra}")
        for name, why in skipped.items():
            print(f"{name:<8} skipped: {why}")
        print(f"driver bookkeeping for a class of 2,000: {per_poll * 1000:.0f} ms per poll (2,000 task.json read, "
              "manifest rewritten), scheduler call excluded")


def _scores(csv_text: str) -> list[list[str]]:
    """grades.csv's scores: item points, total, status (not the wall time, nor the flags, which depend on the
    secret random shift of the MNIST test set)."""
    import csv
    import io

    from grader.config import ITEM_IDS
    return [[row[k] for k in ("student", *ITEM_IDS, "total", "status")] for row in csv.DictReader(io.StringIO(csv_text))]


if __name__ == "__main__":
    main()
