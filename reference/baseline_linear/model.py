"""Calibration baseline: a linear softmax classifier. `cnn.accuracy` gives no credit at or below the
accuracy this reaches with the same training budget (zero_at), just as bicubic upsampling does for SR."""
import torch
from torch import nn


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x: torch.Tensor):
        embedding = x.flatten(1)
        return self.linear(embedding), embedding


class Net(nn.Module):
    def __init__(self, upscale_factor: int):
        raise NotImplementedError("the linear baseline has no SR model: bicubic upsampling is the SR baseline")
