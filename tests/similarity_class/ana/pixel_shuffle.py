"""Part 3: pixel shuffle with einops."""
import torch
from einops import rearrange
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    # the channel axis holds (c, r, r): move the two r's next to h and w
    return rearrange(x, "... (c r1 r2) h w -> ... c (h r1) (w r2)", r1=upscale_factor, r2=upscale_factor)


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    # exact inverse: cut h and w into blocks of r and stack the blocks as channels
    return rearrange(x, "... c (h r1) (w r2) -> ... (c r1 r2) h w", r1=downscale_factor, r2=downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)
