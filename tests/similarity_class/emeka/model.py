"""LeNet-5 for MNIST; ESPCN exactly as in Shi et al. 2016 (tanh activations)."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)     # 28x28 -> 28x28
        self.s2 = nn.AvgPool2d(2)                   # -> 14x14
        self.c3 = nn.Conv2d(6, 16, 5)               # -> 10x10
        self.s4 = nn.AvgPool2d(2)                   # -> 5x5
        self.f5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor):
        x = self.s2(torch.tanh(self.c1(x)))
        x = self.s4(torch.tanh(self.c3(x)))
        x = torch.tanh(self.f5(x.flatten(1)))
        embedding = torch.tanh(self.f6(x))
        return self.output(embedding), embedding


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.extract = nn.Conv2d(1, 64, 5, padding=2)
        self.shrink = nn.Conv2d(64, 32, 3, padding=1)
        self.subpixel = nn.Conv2d(32, upscale_factor ** 2, 3, padding=1)
        self.shuffle = PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.extract(x))
        x = torch.tanh(self.shrink(x))
        return self.shuffle(self.subpixel(x))
