"""Time `python -m grader batch` on N submissions with --jobs 1 and then --jobs 2, in one process.

    python bench/batch_bench.py [--n 20] [--reference 6] [--mnist-steps 20] [--sr-steps 5]

Builds N per-student folders in a temp dir: `--reference` copies of the reference solution (graded in
full: every item runs, with the tiny training budgets of tests/conftest.py's fast rubric), the rest broken
in rotating ways (syntax error, NotImplementedError stubs, os._exit in CNN.forward, missing
pixel_shuffle.py), which fail fast. Each run writes to its own out-dir, so nothing is resumed. Prints the
wall times and the jobs1/jobs2 ratio. Needs GRADER_DATA_DIR (defaults to ../shared/datasets if present).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

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


def run(subs: Path, out: Path, rubric: Path, jobs: int) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out-dir", str(out), "--jobs", str(jobs),
                    "--profile", "quick", "--config", str(rubric), "--sandbox", "process"], cwd=ROOT, check=True)
    return time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--reference", type=int, default=6, help="how many of the N are the reference solution")
    ap.add_argument("--mnist-steps", type=int, default=20)
    ap.add_argument("--sr-steps", type=int, default=5)
    args = ap.parse_args()
    shared = ROOT.parent / "shared" / "datasets"
    if not os.environ.get("GRADER_DATA_DIR") and shared.is_dir():
        os.environ["GRADER_DATA_DIR"] = str(shared)
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as tmp:
        tmp = Path(tmp)
        rubric = fast_rubric(tmp / "fast.yaml", mnist_steps=args.mnist_steps, sr_steps=args.sr_steps)
        subs = build(tmp, args.n, args.reference)
        print(f"{args.n} submissions ({args.reference} reference, {args.n - args.reference} broken); fast rubric: "
              f"quick profile, cnn.accuracy {args.mnist_steps} steps, sr.psnr {args.sr_steps} steps; "
              f"{os.cpu_count()} CPUs", flush=True)
        t1 = run(subs, tmp / "out1", rubric, 1)
        print(f"--jobs 1: {t1:.1f} s", flush=True)
        t2 = run(subs, tmp / "out2", rubric, 2)
        print(f"--jobs 2: {t2:.1f} s", flush=True)
        same = (tmp / "out1" / "grades.csv").read_text().count("\n") == (tmp / "out2" / "grades.csv").read_text().count("\n")
        print(f"speed-up jobs1/jobs2 = {t1 / t2:.2f}x (grades.csv rows equal: {same})")


if __name__ == "__main__":
    main()
