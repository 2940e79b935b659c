"""einops pixel shuffle with the channel count computed explicitly."""
import torch
import einops
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    r = upscale_factor
    channels = x.shape[-3] // (r * r)
    return einops.rearrange(x, "... (c a b) h w -> ... c (h a) (w b)", c=channels, a=r, b=r)


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    r = downscale_factor
    height, width = x.shape[-2] // r, x.shape[-1] // r
    return einops.rearrange(x, "... c (h a) (w b) -> ... (c a b) h w", h=height, w=width, a=r, b=r)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)
