"""A global-average-pooling CNN, and a two-layer sub-pixel network."""
import torch
import torch.nn.functional as F
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(1, 24, 3, padding=1),
            nn.Conv2d(24, 48, 3, padding=1),
            nn.Conv2d(48, 64, 3, padding=1),
        ])
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor):
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i < 2:
                x = F.max_pool2d(x, 2)
        pooled = x.mean(dim=(2, 3))          # global average pooling: (B, 64)
        return self.fc(pooled), pooled


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.body = nn.Conv2d(1, 32, 3, padding=1)
        self.out = nn.Conv2d(32, upscale_factor ** 2, 3, padding=1)
        self.ps = PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ps(self.out(F.relu(self.body(x))))
