"""Batch-normalised CNN with dropout; ESPCN that learns a residual over bicubic upsampling."""
import torch
import torch.nn.functional as F
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(1, 32, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(32)
        self.conv_b = nn.Conv2d(32, 64, 3, padding=1)
        self.bn_b = nn.BatchNorm2d(64)
        self.drop = nn.Dropout(0.25)
        self.hidden = nn.Linear(64 * 7 * 7, 128)
        self.logits = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor):
        x = F.max_pool2d(F.relu(self.bn_a(self.conv_a(x))), 2)
        x = F.max_pool2d(F.relu(self.bn_b(self.conv_b(x))), 2)
        embedding = F.relu(self.hidden(self.drop(x.flatten(1))))
        return self.logits(self.drop(embedding)), embedding


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.scale = upscale_factor
        self.head = nn.Conv2d(1, 48, 5, padding=2)
        self.mid = nn.Conv2d(48, 48, 3, padding=1)
        self.tail = nn.Conv2d(48, upscale_factor ** 2, 3, padding=1)
        self.shuffle = PixelShuffle(upscale_factor)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        residual = self.shuffle(self.tail(F.relu(self.mid(F.relu(self.head(x))))))
        return base + residual
