"""Instructor solution: pixel (un)shuffle with einops, matching torch exactly."""
import torch
from einops import rearrange
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r); channels are grouped as (c r1 r2), like torch.

    >>> x = torch.arange(8.).reshape(1, 8, 1, 1)
    >>> pixel_shuffle(x, 2)[0, 1]
    tensor([[4., 5.],
            [6., 7.]])
    """
    r = upscale_factor
    return rearrange(x, "... (c r1 r2) h w -> ... c (h r1) (w r2)", r1=r, r2=r)


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), the inverse of pixel_shuffle.

    >>> x = torch.randn(2, 3, 8, 4)
    >>> torch.equal(pixel_shuffle(pixel_unshuffle(x, 2), 2), x)
    True
    """
    r = downscale_factor
    return rearrange(x, "... c (h r1) (w r2) -> ... (c r1 r2) h w", r1=r, r2=r)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)
