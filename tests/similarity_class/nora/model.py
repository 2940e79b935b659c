"""Depthwise-separable CNN; an SR net with ELUs and a skip over its middle layers."""
from torch import nn

from pixel_shuffle import PixelShuffle


def separable(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin), nn.Conv2d(cin, cout, 1), nn.ELU())


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ELU(), nn.MaxPool2d(2))
        self.block = nn.Sequential(separable(32, 64), nn.MaxPool2d(2), separable(64, 64), nn.AdaptiveAvgPool2d(2))
        self.fc = nn.Linear(64 * 2 * 2, 10)

    def forward(self, x):
        e = self.block(self.stem(x)).flatten(1)
        return self.fc(e), e


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.inp = nn.Sequential(nn.Conv2d(1, 40, 5, padding=2), nn.ELU())
        self.mid = nn.Sequential(nn.Conv2d(40, 40, 3, padding=1), nn.ELU(), nn.Conv2d(40, 40, 3, padding=1), nn.ELU())
        self.out = nn.Conv2d(40, upscale_factor ** 2, 3, padding=1)
        self.shuffle = PixelShuffle(upscale_factor)

    def forward(self, x):
        h = self.inp(x)
        return self.shuffle(self.out(h + self.mid(h)))
