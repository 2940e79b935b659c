"""Wall time and peak memory of one quick grade of the reference, as a user runs it (a CLI subprocess).

Peak RSS is reported for the orchestrator and for the largest child separately (ru_maxrss), plus the
same number for a bare `import torch`, which is the floor each torch process pays with the installed wheel.
Two grades: the first on a machine (cold decode cache: grader/oracle.py decodes the data with torchvision in
a trusted subprocess, which is then the largest child) and every later one (warm cache: the largest child
is a worker, and the orchestrator never imports torch).

    GRADER_DATA_DIR=../shared/datasets python bench/grade_bench.py [--sandbox process]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import resource, runpy, sys
sys.argv = ["grader"] + sys.argv[1:]
try:
    runpy.run_module("grader", run_name="__main__")
except SystemExit:
    pass
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent
self_kb = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("PEAK", self_kb, child_kb, file=sys.stderr)
"""


def grade_once(sandbox: str, cache: Path) -> tuple[float, dict, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", PROBE, "grade", str(ROOT / "reference"), "--profile", "quick",
                              "--sandbox", sandbox, "--out", str(out)],
                             cwd=ROOT, capture_output=True, text=True, env={**os.environ, "GRADER_CACHE_DIR": str(cache)})
        wall = time.perf_counter() - start
        report = json.loads(out.read_text())
    return wall, report, next(l for l in run.stderr.splitlines() if l.startswith("PEAK")).split()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default="process")
    args = parser.parse_args()
    floor = subprocess.run([sys.executable, "-c", "import resource, torch; "
                            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                           capture_output=True, text=True).stdout.strip()
    print(f"`import torch` alone: {int(floor) / 1024:.0f} MB")
    with tempfile.TemporaryDirectory() as cache:
        for label in ("first grade (cold cache)", "later grades (warm cache)"):
            wall, report, peak = grade_once(args.sandbox, Path(cache))
            print(f"{label}: score {report['score']}/{report['max_score']}, wall {wall:.1f} s (target <= 90 s), "
                  f"sandbox {report['sandbox']}; peak RSS orchestrator {int(peak[1]) / 1024:.0f} MB, "
                  f"largest child {int(peak[2]) / 1024:.0f} MB (target <= 700 MB)")


if __name__ == "__main__":
    main()
