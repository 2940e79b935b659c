"""Wall time and peak memory of one quick grade of the reference, as a user runs it (a CLI subprocess).

Peak RSS is reported for the orchestrator and for the largest worker separately (ru_maxrss), plus the
same numbers for a bare `import torch`, which is the floor each process pays with the installed wheel.

    GRADER_DATA_DIR=../shared/datasets python bench/grade_bench.py [--sandbox process]
"""
import argparse
import json
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
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("PEAK", self_kb, child_kb, file=sys.stderr)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default="process")
    args = parser.parse_args()
    floor = subprocess.run([sys.executable, "-c", "import resource, torch; "
                            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                           capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", PROBE, "grade", str(ROOT / "reference"), "--profile", "quick",
                              "--sandbox", args.sandbox, "--out", str(out)],
                             cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        report = json.loads(out.read_text())
    peak = next(l for l in run.stderr.splitlines() if l.startswith("PEAK")).split()
    print(f"quick grade of the reference: score {report['score']}/{report['max_score']}, wall {wall:.1f} s "
          f"(target <= 90 s), sandbox {report['sandbox']}")
    print(f"peak RSS: orchestrator {int(peak[1]) / 1024:.0f} MB, largest worker {int(peak[2]) / 1024:.0f} MB "
          f"(target <= 700 MB); `import torch` alone: {int(floor) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
