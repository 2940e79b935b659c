"""Pixel shuffle and unshuffle written with einops.rearrange."""
import torch
from einops import rearrange
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    """Rearranges (*, C*r^2, H, W) to (*, C, H*r, W*r); torch packs channels as (c, r1, r2)."""
    pattern = "... (c r1 r2) h w -> ... c (h r1) (w r2)"
    return rearrange(x, pattern, r1=upscale_factor, r2=upscale_factor)


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    """Rearranges (*, C, H*r, W*r) back to (*, C*r^2, H, W)."""
    pattern = "... c (h r1) (w r2) -> ... (c r1 r2) h w"
    return rearrange(x, pattern, r1=downscale_factor, r2=downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, upscale_factor=self.upscale_factor)
