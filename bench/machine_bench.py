"""A quick grade of the reference on the machines users have: idle, every core 3x oversubscribed by busy
processes, and Gradescope's default container (0.5 CPU, 768 MB) beside CPU burners. Printed per environment:
wall time, CPU seconds of the whole process tree, peak memory (the cgroup's peak, and the largest sum of RSS
over the grade's processes), the score and whether any item was starved. The score and metrics must be the
same in every row (tests/test_machine_independence.py asserts it; this prints the costs).

    GRADER_DATA_DIR=../shared/datasets python bench/machine_bench.py [--sandbox process]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from cgroup_limits import run_limited, unavailable  # noqa: E402

BURN = "import os\nwhile os.getppid() != 1: pass"
ENVIRONMENTS = (("idle", 0, None), ("3x oversubscribed", 3, None), ("0.5 CPU, 768 MB + burners", 1, (768, 0.5)))


@contextmanager
def burners(per_core: int):
    procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(per_core * os.cpu_count())]
    try:
        time.sleep(1 if procs else 0)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default="process")
    args = parser.parse_args()
    if unavailable():
        raise SystemExit(f"cannot measure in cgroups here: {unavailable()}")
    print(f"quick grade of the reference, {os.cpu_count()} CPUs, sandbox {args.sandbox}")
    print(f"{'environment':<28} {'wall s':>7} {'CPU s':>7} {'cgroup peak MB':>15} {'RSS peak MB':>12}  score  metrics")
    for name, per_core, limits in ENVIRONMENTS:
        memory_mb, cpus = limits or (16384, float(os.cpu_count()))
        with tempfile.TemporaryDirectory() as tmp, burners(per_core):
            out = Path(tmp) / "report.json"
            usage = run_limited([sys.executable, "-m", "grader", "grade", str(ROOT / "reference"), "--profile", "quick",
                                 "--sandbox", args.sandbox, "--out", str(out)], memory_mb, cpus, timeout=3600,
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            report = json.loads(out.read_text())
        metrics = {t["id"]: t["metrics"].get("accuracy", t["metrics"].get("psnr")) for t in report["tests"]
                   if t["id"] in ("cnn.accuracy", "sr.psnr")}
        print(f"{name:<28} {usage.wall_s:>7.1f} {usage.cpu_s:>7.1f} {usage.peak_mb:>15.0f} {usage.peak_rss_mb:>12.0f}  "
              f"{report['score']:>5g}  {metrics}{' STARVED: ' + ', '.join(report['starved']) if report['starved'] else ''}"
              f"{' OOM' if usage.oom_killed else ''}", flush=True)


if __name__ == "__main__":
    main()
