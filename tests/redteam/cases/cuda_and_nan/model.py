"""RED TEAM: a CNN hard-coded to the GPU, and an SR Net whose outputs are NaN/inf after training."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = x.cuda()                      # hard-coded device
        embedding = self.features(x).flatten(1)
        return self.out(embedding), embedding


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.conv = nn.Conv2d(1, upscale_factor ** 2, 3, padding=1)
        self.pixel_shuffle = PixelShuffle(upscale_factor)

    def forward(self, x):
        out = self.pixel_shuffle(self.conv(x))
        if not self.training:             # NaN and inf at test time
            out = out * torch.tensor(float("nan")) + torch.tensor(float("inf"))
        return out
