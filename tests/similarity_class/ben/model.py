"""Strided convolutions instead of pooling; a slimmer ESPCN with leaky ReLUs."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle


def conv_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(conv_block(1, 16, 2), conv_block(16, 32, 2), conv_block(32, 64, 2))
        self.classifier = nn.Linear(64 * 4 * 4, 10)

    def forward(self, x: torch.Tensor):
        z = self.body(x).view(x.size(0), -1)
        return self.classifier(z), z


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.LeakyReLU(0.1),
            nn.Conv2d(32, 32, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(32, 16, 3, padding=1), nn.LeakyReLU(0.1),
        )
        self.to_subpixels = nn.Conv2d(16, upscale_factor * upscale_factor, 3, padding=1)
        self.shuffle = PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.to_subpixels(self.features(x)))
