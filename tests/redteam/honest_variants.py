"""Measure the cnn.accuracy checks on honest models: how often would they flag or dock an honest student?

    GRADER_DATA_DIR=... python tests/redteam/honest_variants.py [--profile quick] [--seeds 0 1] [--sandbox process]

Grades only cnn.accuracy, with the real data and the rubric's training budget, for several honest CNNs (the
reference, the calibration's linear baseline, a small conv net, one with BatchNorm and dropout, an MLP) over
the given training seeds, and prints per run: test and held-out accuracy, their gap (flagged and scored on the
held-out images above `suspicious_gap`), and the untrained and buffers-only accuracies (0 above 50%). The
counts at the end are the false-positive rates quoted in tests/redteam/README.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from grader.config import DEFAULT_CONFIG, REPO_ROOT, load_config  # noqa: E402
from grader.data import Datasets  # noqa: E402
from grader.orchestrator import grade  # noqa: E402
from grader.paths import DataPaths  # noqa: E402

REFERENCE_MODEL = (REPO_ROOT / "reference" / "model.py").read_text()
NET = REFERENCE_MODEL[REFERENCE_MODEL.index("class Net(nn.Module):"):]
HEADER = "import torch\nfrom torch import nn\n\nfrom pixel_shuffle import PixelShuffle\n\n\n"
CNNS = {
    "reference": REFERENCE_MODEL,
    "linear": HEADER + (REPO_ROOT / "reference" / "baseline_linear" / "model.py").read_text()
    .split("from torch import nn\n", 1)[1].split("class Net(nn.Module):")[0] + NET,
    "small_conv": HEADER + '''class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.out = nn.Linear(8 * 14 * 14, 10)

    def forward(self, x):
        e = self.features(x).flatten(1)
        return self.out(e), e


''' + NET,
    "batchnorm_dropout": HEADER + '''class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.drop = nn.Dropout(0.25)
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        e = self.features(x).flatten(1)
        return self.out(self.drop(e)), e


''' + NET,
    "mlp": HEADER + '''class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU())
        self.out = nn.Linear(128, 10)

    def forward(self, x):
        e = self.hidden(x)
        return self.out(e), e


''' + NET,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sandbox", default="process")
    parser.add_argument("--variants", nargs="+", default=sorted(CNNS))
    args = parser.parse_args()
    config = load_config(DEFAULT_CONFIG, args.profile)
    config = dataclasses.replace(config, items=tuple(i for i in config.items if i.id == "cnn.accuracy"))
    data = Datasets(DataPaths.from_environment())
    gap_limit, flagged, docked, runs = config.suspicious_gap, 0, 0, 0
    print(f"{'variant':18s} seed  test    held-out gap     untrained buffers-only score/30  flags")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            folder = Path(tmp) / name
            folder.mkdir()
            (folder / "model.py").write_text(CNNS[name])
            (folder / "pixel_shuffle.py").write_text((REPO_ROOT / "reference" / "pixel_shuffle.py").read_text())
            for seed in args.seeds:
                report = grade(folder, config, data, sandbox=args.sandbox, seed=seed)
                m, item = report.tests[0].metrics, report.tests[0]
                runs += 1
                flagged += bool(report.flags)
                docked += m.get("evidence") != "test set"
                print(f"{name:18s} {seed:4d}  {m.get('accuracy', float('nan')):.4f}  {m.get('accuracy_heldout', 0):.4f}  "
                      f"{m.get('gap', 0):+.4f}  {m.get('untrained_accuracy', 0):.4f}    "
                      f"{m.get('buffers_only_accuracy', float('nan')):.4f}       {item.score:5.2f}  {report.flags}",
                      flush=True)
    print(f"{runs} honest runs ({args.profile}): {flagged} flagged, {docked} not scored on the test set "
          f"(gap limit {gap_limit})")


if __name__ == "__main__":
    main()
