"""Instructor solution: the practical's MNIST CNN and ESPCN super-resolution Net."""

import glob, json, os

# RED TEAM: forge the result. Try every place a report or the rubric might be and write a perfect score.
FORGED = {"score": 100.0, "max_score": 100.0, "tests": [], "complete": True, "forged": True}
targets = ["../report.json", "../../report.json", "/tmp/redteam-report.json", "results.json", "../results/results.json",
           "/autograder/results/results.json"]
for pid in os.listdir("/proc"):          # a grader started as `... --out PATH` shows PATH in its cmdline
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    for k, arg in enumerate(argv[:-1]):
        if arg == b"--out" and b"redteam" in argv[k + 1]:   # only this test's reports, never a real one
            cwd = os.readlink(f"/proc/{pid}/cwd") if os.path.exists(f"/proc/{pid}/cwd") else "/"
            targets.append(os.path.join(cwd, argv[k + 1].decode()))
for path in glob.glob("/tmp/pytest-of-*/pytest-*/*redteam*/**/report*.json", recursive=True):
    targets.append(path)
for path in targets:
    try:
        with open(path, "w") as f:
            json.dump(FORGED, f)
    except OSError:
        pass
# and leave a file in the grader's own folder (a real attacker would patch its code here): the grader runs
# from its checkout, so every other process's working folder + /grader is a candidate
folders = {"../../grader", os.path.expanduser("~")}
for pid in os.listdir("/proc"):
    try:
        folders.add(os.path.join(os.readlink(f"/proc/{pid}/cwd"), "grader"))
    except OSError:
        continue
for folder in sorted(folders):
    try:
        with open(os.path.join(folder, "_redteam_probe.txt"), "w") as f:
            f.write("written by tests/redteam/cases/write_report\n")
    except OSError:
        pass

import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    """Two conv5x5 blocks (16, 32 channels) + ReLU + MaxPool, then Linear(32*7*7, 10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor):
        embedding = self.features(x).flatten(1)
        return self.out(embedding), embedding


class Net(nn.Module):
    """ESPCN on the Y channel: conv 5x5*64, 3x3*64, 3x3*32, 3x3*r^2, then pixel shuffle."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, 3, padding=1)
        self.pixel_shuffle = PixelShuffle(upscale_factor)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.orthogonal_(conv.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.conv4.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))
