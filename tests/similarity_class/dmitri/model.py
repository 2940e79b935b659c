"""Both networks are built from small layer specifications."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle

CNN_CHANNELS = (1, 8, 16, 32)        # three conv blocks: 28 -> 14 -> 7 -> 3
SR_LAYERS = ((1, 64, 5), (64, 32, 3))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        blocks = []
        for cin, cout in zip(CNN_CHANNELS[:-1], CNN_CHANNELS[1:]):
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
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.shuffle(self.last(x))
