"""RED TEAM: torch's own shuffle, reached by an alias bound at import, by getattr, and via nn.PixelShuffle;
einops is called on the side so that "einops ran" is true."""
import importlib

import torch
from einops import rearrange
from torch import nn
from torch.nn.functional import pixel_shuffle as _shuffle_alias   # bound at import time

_unshuffle = getattr(importlib.import_module("torch.nn." + "functional"), "pixel_" + "un" + "shuffle")


def pixel_shuffle(x, upscale_factor):
    rearrange(x, "... h w -> ... h w")          # einops "runs"
    return _shuffle_alias(x, upscale_factor)


def pixel_unshuffle(x, downscale_factor):
    rearrange(x, "... h w -> ... h w")
    return _unshuffle(x, downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.inner = getattr(nn, "Pixel" + "Shuffle")(upscale_factor)

    def forward(self, x):
        rearrange(x, "... h w -> ... h w")
        return self.inner(x)
