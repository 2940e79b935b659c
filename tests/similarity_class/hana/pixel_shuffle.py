"""Pixel shuffle with einops: I flatten the leading dims, shuffle 4-D, and restore them."""
import torch
from einops import rearrange
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    batch_shape = x.shape[:-3]
    four_d = x.flatten(0, -4) if x.dim() > 4 else x.reshape(-1, *x.shape[-3:])
    y = rearrange(four_d, "n (c r s) h w -> n c (h r) (w s)", r=upscale_factor, s=upscale_factor)
    return y.reshape(*batch_shape, *y.shape[-3:])


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    batch_shape = x.shape[:-3]
    four_d = x.reshape(-1, *x.shape[-3:])
    y = rearrange(four_d, "n c (h r) (w s) -> n (c r s) h w", r=downscale_factor, s=downscale_factor)
    return y.reshape(*batch_shape, *y.shape[-3:])


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)
