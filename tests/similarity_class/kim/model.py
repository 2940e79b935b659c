"""Models: classifier with batch norm, and a residual sub-pixel SR network."""
import torch
import torch.nn.functional as F
from torch import nn

from pixel_shuffle import PixelShuffle


class Net(nn.Module):
    """Predicts the difference to a bicubic upsample."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.factor = upscale_factor
        self.c1 = nn.Conv2d(1, 48, 5, padding=2)
        self.c2 = nn.Conv2d(48, 48, 3, padding=1)
        self.c3 = nn.Conv2d(48, upscale_factor ** 2, 3, padding=1)
        self.ps = PixelShuffle(upscale_factor)
        # start from plain bicubic
        nn.init.zeros_(self.c3.weight)
        nn.init.zeros_(self.c3.bias)

    def forward(self, lowres: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(lowres, scale_factor=self.factor, mode="bicubic", align_corners=False)
        delta = self.ps(self.c3(F.relu(self.c2(F.relu(self.c1(lowres))))))
        return up + delta


class CNN(nn.Module):
    """Digit classifier."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.n1 = nn.BatchNorm2d(32)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.n2 = nn.BatchNorm2d(64)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, images: torch.Tensor):
        images = F.max_pool2d(F.relu(self.n1(self.c1(images))), 2)
        images = F.max_pool2d(F.relu(self.n2(self.c2(images))), 2)
        feats = F.relu(self.fc1(self.dropout(images.flatten(1))))
        return self.fc2(self.dropout(feats)), feats
