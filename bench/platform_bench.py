"""Peak memory and CPU demand of a whole quick grade of the reference (grader + workers) inside each LMS's
container limits, as `python -m grader package` reports them.

    GRADER_DATA_DIR=... python bench/platform_bench.py [--python PY] [--write]

Each grade runs `python -m grader grade reference --profile quick --sandbox process` (the LMS path, as root)
in a cgroup with the platform's defaults: Gradescope 768 MB and 0.5 CPU, PrairieLearn 2 GiB and 0.9 CPU (its
grader host's Docker settings). Printed per run: wall time, the cgroup's peak (what the OOM killer compares
with the limit), the peak of the summed RSS of all processes, whether anything was OOM-killed, and the CPU
seconds of each item group (its worker starts and calls, from the report). Item limits count CPU seconds,
so the committed rubric is measured as it is: other load on the host only stretches the wall time.
`package` compares each group's CPU seconds with its CPU limit. --python picks the interpreter (a venv with
the CPU torch wheel the images install, where one can be had); --write stores the numbers in
grader/templates/footprint.json, which `package` reads.
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
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from cgroup_limits import run_limited, unavailable  # noqa: E402
from grader.items import GROUPS, items_of  # noqa: E402

RUNS = (("gradescope-default", 768, 0.5), ("prairielearn", 2048, 0.9))


def grade(python: str, memory_mb: int, cpus: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        usage = run_limited([python, "-m", "grader", "grade", str(ROOT / "reference"), "--profile", "quick",
                             "--sandbox", "process", "--out", str(out)],
                            memory_mb, cpus, timeout=7200, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        report = json.loads(out.read_text()) if out.is_file() else {}
    group_cpu = {group: round(sum(c["cpu_s"] for c in report.get("calls", []) if c["group"] == group), 1)
                 for group in GROUPS}
    return {"memory_limit_mb": memory_mb, "cpus": cpus, "wall_s": round(usage.wall_s, 1),
            "cpu_s": round(usage.cpu_s, 1), "cgroup_peak_mb": round(usage.peak_mb),
            "rss_peak_mb": round(usage.peak_rss_mb), "oom_killed": usage.oom_killed, "exit_status": usage.returncode,
            "score": report.get("score"), "max_score": report.get("max_score"), "complete": report.get("complete"),
            "groups": [{"items": list(items_of(group)), "cpu_s": cpu} for group, cpu in group_cpu.items()]
            if report.get("calls") else [],
            "not_passed": {t["id"]: t["output"][:160] for t in report.get("tests", []) if t["status"] != "passed"}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--only", help="run only this configuration (by name)")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"cannot apply container limits here: {reason}")
    torch = subprocess.run([args.python, "-c", "import importlib.metadata as m; print(m.version('torch'))"],
                           capture_output=True, text=True).stdout.strip()
    results = {}
    for name, memory_mb, cpus in RUNS:
        if args.only and name != args.only:
            continue
        results[name] = grade(args.python, memory_mb, cpus)
        print(f"{name:<20} {json.dumps(results[name])}", flush=True)
    if args.write:
        path = ROOT / "grader" / "templates" / "footprint.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.update({"profile": "quick", "torch": torch, "measured": time.strftime("%Y-%m-%d"),
                     "how": "bench/platform_bench.py: a quick grade of the reference as root, --sandbox process"})
        data.setdefault("runs", {}).update(results)
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
