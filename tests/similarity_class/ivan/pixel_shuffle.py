"""Pixel shuffle / unshuffle rewritten using einops (exercise 3)."""
import torch
from einops import rearrange
from torch import nn


def pixel_shuffle(inp: torch.Tensor, factor: int) -> torch.Tensor:
    # channels are grouped as (c, f, f); interleave the f's into the spatial dims
    return rearrange(inp, "... (c r1 r2) h w -> ... c (h r1) (w r2)", r1=factor, r2=factor)


def pixel_unshuffle(inp: torch.Tensor, factor: int) -> torch.Tensor:
    # the reverse operation
    return rearrange(inp, "... c (h r1) (w r2) -> ... (c r1 r2) h w", r1=factor, r2=factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(inp, self.upscale_factor)
