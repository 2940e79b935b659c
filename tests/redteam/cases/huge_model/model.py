"""RED TEAM: models far over the parameter budget (max_params in grading.yaml)."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))
        self.hidden = nn.Linear(16 * 14 * 14, 4096)      # 12.8 M parameters
        self.out = nn.Linear(4096, 10)

    def forward(self, x):
        embedding = torch.relu(self.hidden(self.features(x).flatten(1)))
        return self.out(embedding), embedding


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.convs = nn.Sequential(*[nn.Conv2d(256 if k else 1, 256, 3, padding=1) for k in range(4)])  # 1.8 M
        self.last = nn.Conv2d(256, upscale_factor ** 2, 3, padding=1)
        self.pixel_shuffle = PixelShuffle(upscale_factor)

    def forward(self, x):
        return self.pixel_shuffle(self.last(self.convs(x)))
