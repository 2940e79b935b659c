"""A quick grade of the reference, broken down, next to the bare compute of the same training and evaluation.

Harness: `python -m grader grade reference --profile quick` as a user runs it (a CLI subprocess); its report's
`calls` give each worker start and call with its wall and CPU time; the trusted side is the rest of the
process tree's CPU time. Bare compute: one plain Python process that imports torch once and runs the same
training loops and evaluation passes (grader/worker/training.py, the rubric's quick budgets, one thread, as
the workers do) with nothing around them. Rounds are interleaved and medians printed (this host drifts).
Also the peak RSS of the orchestrator and of the largest child, and `import torch` alone.

    GRADER_DATA_DIR=../shared/datasets python bench/grade_bench.py [--sandbox process] [--rounds 2]
"""
import argparse
import json
import os
import resource
import statistics
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
BARE = """
import json, resource, sys, time
t0 = time.perf_counter()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
import numpy as np, torch
sys.path.insert(0, "reference")
from grader.worker import training
from grader.checks.cnn import HELD_OUT, PROBE
from grader.config import load_config
from grader.data import Datasets
from grader.paths import DataPaths
import model as reference
training.configure_torch(1)
cfg = load_config(None, "quick")
cnn, sr = cfg.item("cnn.accuracy").train, cfg.item("sr.psnr").train
data = Datasets(DataPaths.from_environment())
mnist, train, test = data.mnist(), data.bsds("train", 2), data.bsds("test", 2)
out, mark = {"import": [time.perf_counter() - t0, cpu()]}, [time.perf_counter(), cpu()]
def lap(name):
    now = [time.perf_counter(), cpu()]
    out[name] = [now[0] - mark[0], now[1] - mark[1]]
    mark[:] = now
x, y = torch.from_numpy(mnist.train_x[:-10000]), torch.from_numpy(mnist.train_y[:-10000])
model = reference.CNN()
training.train_classifier(model, x, y, steps=cnn["steps"], batch_size=cnn["batch_size"], lr=cnn["lr"],
                          optimizer=cnn["optimizer"], schedule=cnn.get("schedule", "none"))
lap("mnist training")
images = torch.from_numpy(np.concatenate([mnist.test_x, mnist.train_x[-10000:][:HELD_OUT]]))
argmax = lambda o: o[0].argmax(1)
training.predict(model, images, training.MNIST_EVAL_BATCH, argmax, "cpu", training.normalize_mnist)
for _ in range(2):   # the untrained and the buffers-only checks
    training.predict(reference.CNN(), images[:PROBE], training.MNIST_EVAL_BATCH, argmax, "cpu", training.normalize_mnist)
lap("mnist evaluation")
net = reference.Net(2)
training.train_super_resolution(net, torch.from_numpy(train.lr), torch.from_numpy(train.hr), r=2, steps=sr["steps"],
                                batch_size=sr["batch_size"], patch=sr["patch"], lr=sr["lr"], optimizer=sr["optimizer"],
                                schedule=sr["schedule"])
lap("sr training")
training.predict(net, torch.from_numpy(test.lr), 4, lambda o: o, "cpu")
lap("sr evaluation")
out["total"] = [time.perf_counter() - t0, cpu()]
print(json.dumps(out))
"""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bare() -> dict:
    before = children_cpu()
    run = subprocess.run([sys.executable, "-c", BARE], cwd=ROOT, capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stderr)
    out = json.loads(run.stdout.splitlines()[-1])
    out["total"][1] = children_cpu() - before   # the interpreter's start too
    return out


def harness(sandbox: str) -> tuple[dict, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        before, start = children_cpu(), time.perf_counter()
        run = subprocess.run([sys.executable, "-c", PROBE, "grade", str(ROOT / "reference"), "--profile", "quick",
                              "--sandbox", sandbox, "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu() - before
        report = json.loads(out.read_text())
    parts: dict[str, list[float]] = {}
    for call in report["calls"]:
        kind = ("worker starts" if call["call"] == "worker start" else
                "training" if call["call"].endswith("_train") else
                "evaluation (fresh worker)" if call["call"].endswith("_eval") else "interface and shuffle checks")
        parts.setdefault(kind, [0.0, 0.0])
        parts[kind][0] += call["wall_s"]
        parts[kind][1] += call["cpu_s"]
    parts["trusted side and sandbox (the rest)"] = [float("nan"), cpu - sum(p[1] for p in parts.values())]
    parts["total"] = [wall, cpu]
    return {"parts": parts, "score": report["score"], "sandbox": report["sandbox"]}, \
        next(line for line in run.stderr.splitlines() if line.startswith("PEAK")).split()


def median(rounds: list[dict], key: str, index: int) -> float:
    return statistics.median(r[key][index] for r in rounds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", default="process")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    floor = subprocess.run([sys.executable, "-c", "import resource, torch; "
                            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                           capture_output=True, text=True).stdout.strip()
    bares, harnesses, peaks = [], [], []
    for _ in range(args.rounds):
        bares.append(bare())
        result, peak = harness(args.sandbox)
        harnesses.append(result["parts"])
        peaks.append(peak)
    print(f"quick grade of the reference, {args.rounds} interleaved rounds, medians; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; score {result['score']:g}, sandbox {result['sandbox']}")
    print(f"{'harness':<40} {'wall s':>8} {'CPU s':>8}    {'bare compute':<18} {'wall s':>8} {'CPU s':>8}")
    bare_rows = ["import", "mnist training", "mnist evaluation", "sr training", "sr evaluation", "total"]
    rows = list(harnesses[0])
    for k in range(max(len(rows), len(bare_rows))):
        left = (f"{rows[k]:<40} {median(harnesses, rows[k], 0):>8.1f} {median(harnesses, rows[k], 1):>8.1f}"
                if k < len(rows) else " " * 58)
        right = (f"{bare_rows[k]:<18} {median(bares, bare_rows[k], 0):>8.1f} {median(bares, bare_rows[k], 1):>8.1f}"
                 if k < len(bare_rows) else "")
        print(f"{left}    {right}")
    wall, cpu = (median(harnesses, "total", i) / median(bares, "total", i) for i in (0, 1))
    print(f"harness / bare compute: wall {wall:.2f}x, CPU {cpu:.2f}x (targets: a quick grade <= 16 s wall and "
          f"<= 30 CPU s on 2 idle cores)")
    peak = peaks[-1]
    print(f"peak RSS: orchestrator {int(peak[1]) / 1024:.0f} MB, largest child {int(peak[2]) / 1024:.0f} MB; "
          f"`import torch` alone {int(floor) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
