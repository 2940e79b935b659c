"""Pixel shuffle via einops. The module uses einops' Rearrange layer directly."""
import torch
from einops import rearrange
from einops.layers.torch import Rearrange
from torch import nn

SHUFFLE = "... (ch sy sx) y x -> ... ch (y sy) (x sx)"
UNSHUFFLE = "... ch (y sy) (x sx) -> ... (ch sy sx) y x"


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    return rearrange(x, SHUFFLE, sy=upscale_factor, sx=upscale_factor)


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    return rearrange(x, UNSHUFFLE, sy=downscale_factor, sx=downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor
        self.layer = Rearrange(SHUFFLE, sy=upscale_factor, sx=upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)
