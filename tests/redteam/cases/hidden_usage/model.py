"""RED TEAM (issue 11, class 5): hold memory and disk where a simple limit does not look.

CNN.forward, training: 64 MB at a time written into memfds that are never mapped (no RSS counts them), up
to 6 GB (the red-team limit is 2 GB). Net.forward, training: a folder tree 2,200 levels deep under the
worker's tmp (deeper than any path can name: past 4,096 bytes path-based calls fail, a recursive walk hits
Python's recursion limit), with a 16 MB file at every level, up to 3 GB (the disk limit is 1 GB).
"""
import os

import torch
from torch import nn

from pixel_shuffle import PixelShuffle



_held = []


def _hoard_memfds():
    chunk = b"x" * (64 * 2**20)
    for k in range(96):
        fd = os.memfd_create(f"hoard{k}")
        os.write(fd, chunk)
        _held.append(fd)


def _deep_tree():
    base = os.environ.get("TMPDIR") or "/tmp"
    os.chdir(base)
    chunk = b"y" * (16 * 2**20)
    for level in range(2200):
        os.mkdir("d")
        os.chdir("d")
        if level < 190:
            with open("f", "wb") as f:
                f.write(chunk)


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
        if self.training and not _held:   # RED TEAM
            _hoard_memfds()
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
        if self.training:   # RED TEAM
            _deep_tree()
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))
