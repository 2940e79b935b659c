"""RED TEAM (also fix): Net forgets its pixel shuffle: forward returns the last conv's r*r channels at the
input size. sr.interface names the mistake; training must too, not only print the two shapes."""
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
        return self.conv4(x)
