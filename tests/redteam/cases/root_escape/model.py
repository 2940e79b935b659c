"""RED TEAM (issue 11, class 6): what a submission graded as root could do, tried at import.

Each success sets a bit of the CNN's embedding width (1568 + bits), so the report shows what worked:
1 reference/ read from a checkout it finds on disk, 2 the grader's cached torch answers overwritten,
4 the grader (our parent) stopped with SIGSTOP, 8 a process of another user killed (the test's
`redteam_victim`), 16 a file written into the checkout's grader/, 32 the test's root-owned canary
overwritten. Every step is one the grader's own uid could do and the sandbox uid cannot.
"""
import glob
import os
import signal

import torch
from torch import nn

from pixel_shuffle import PixelShuffle



FOUND = 0


def _try(bit, action):
    global FOUND
    try:
        action()
        FOUND |= bit
    except Exception:
        pass


def _read_reference():
    path = next(p for p in glob.glob("/*/*/reference/model.py") + glob.glob("/*/*/*/reference/model.py")
                + glob.glob("/root/*/reference/model.py"))
    open(path).read()


def _poison_cache():
    targets = glob.glob(os.path.expanduser("~root/.cache/grader/*/shuffle_*.npz"))
    if not targets:
        raise OSError("not found")
    for path in targets:
        with open(path, "r+b") as f:
            f.write(b"\0" * 64)


def _stop_grader():
    parent = os.getppid()
    if parent <= 1:
        raise OSError("no parent")
    os.kill(parent, signal.SIGSTOP)
    os.kill(parent, signal.SIGCONT)   # were it stopped, the grade would hang; this only proves the point


def _kill_victim():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if open(f"/proc/{pid}/comm").read().strip() == "redteam_victim":
                    os.kill(int(pid), signal.SIGKILL)
                    return
            except OSError:
                continue
    raise OSError("no victim")


def _write_into_grader():
    folder = os.path.dirname(next(iter(glob.glob("/*/*/reference/model.py") + glob.glob("/*/*/*/reference/model.py"))))
    with open(os.path.join(folder, "..", "grader", "_redteam_probe.txt"), "w") as f:
        f.write("written by a submission")


def _overwrite_canary():
    with open("/tmp/redteam_canary", "r+") as f:   # only the test's own file: a new one proves nothing
        f.write("overwritten by a submission")


for _bit, _action in ((1, _read_reference), (2, _poison_cache), (4, _stop_grader), (8, _kill_victim),
                      (16, _write_into_grader), (32, _overwrite_canary)):
    _try(_bit, _action)


class CNN(nn.Module):
    """Two conv5x5 blocks (16, 32 channels) + ReLU + MaxPool, then Linear(32*7*7, 10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.out = nn.Linear(32 * 7 * 7 + FOUND, 10)

    def forward(self, x: torch.Tensor):
        embedding = self.features(x).flatten(1)
        embedding = torch.cat([embedding, embedding.new_zeros(len(x), FOUND)], 1)
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
