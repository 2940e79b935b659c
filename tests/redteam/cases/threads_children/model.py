"""Instructor solution: the practical's MNIST CNN and ESPCN super-resolution Net."""

import ctypes, os, subprocess, sys, threading, time


def _name_me():   # every stray is named "redteam_stray" (see /proc/PID/comm) so the test can look for it
    try:
        ctypes.CDLL(None).prctl(15, b"redteam_stray", 0, 0, 0)
    except Exception:
        pass


def _spin():
    while True:
        time.sleep(0.05)


# RED TEAM: a non-daemon thread, a daemon thread, a setsid'd child, and a double-forked daemon
threading.Thread(target=_spin).start()
threading.Thread(target=_spin, daemon=True).start()
subprocess.Popen([sys.executable, "-c", "import ctypes,time; ctypes.CDLL(None).prctl(15, b'redteam_stray', 0, 0, 0); "
                  "[time.sleep(1) for _ in iter(int, 1)]"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _name_me()
        import signal
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        while True:
            time.sleep(0.2)
    os._exit(0)

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
