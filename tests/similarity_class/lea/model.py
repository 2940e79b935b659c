"""CNN and super-resolution Net for the practical.

Written to be configurable: change the tuples below to try other sizes.
"""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle

CNN_CHANNELS = (1, 8, 16, 32)  # conv widths
SR_LAYERS = ((1, 64, 5), (64, 32, 3))  # (in, out, kernel)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        blocks = []
        for cin, cout in zip(CNN_CHANNELS[:-1], CNN_CHANNELS[1:]):
            # conv, relu, halve the resolution
            blocks += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.blocks = nn.Sequential(*blocks)
        self.project = nn.Linear(CNN_CHANNELS[-1] * 3 * 3, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor):
        embedding = torch.tanh(self.project(self.blocks(x).flatten(1)))
        return self.out(embedding), embedding


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Conv2d(cin, cout, k, padding=k // 2) for cin, cout, k in SR_LAYERS)
        self.last = nn.Conv2d(SR_LAYERS[-1][1], upscale_factor ** 2, 3, padding=1)
        self.shuffle = PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # tanh like the original ESPCN paper
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.shuffle(self.last(x))
