"""Classifier (LeNet) and the sub-pixel super-resolution network."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool_1 = nn.AvgPool2d(2)
        self.conv_2 = nn.Conv2d(6, 16, 5)
        self.pool_2 = nn.AvgPool2d(2)
        self.dense_1 = nn.Linear(16 * 5 * 5, 120)
        self.dense_2 = nn.Linear(120, 84)
        self.dense_3 = nn.Linear(84, 10)

    def forward(self, inputs: torch.Tensor):
        inputs = self.pool_1(torch.tanh(self.conv_1(inputs)))
        inputs = self.pool_2(torch.tanh(self.conv_2(inputs)))
        inputs = torch.tanh(self.dense_1(inputs.flatten(1)))
        code = torch.tanh(self.dense_2(inputs))
        return self.dense_3(code), code


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.feat = nn.Conv2d(1, 64, 5, padding=2)
        self.map = nn.Conv2d(64, 32, 3, padding=1)
        self.sub = nn.Conv2d(32, upscale_factor ** 2, 3, padding=1)
        self.up = PixelShuffle(upscale_factor)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = torch.tanh(self.feat(inputs))
        inputs = torch.tanh(self.map(inputs))
        return self.up(self.sub(inputs))
