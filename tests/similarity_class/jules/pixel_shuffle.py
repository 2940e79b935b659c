"""Exercise 3 -- einops version of torch's pixel (un)shuffle."""
import torch
from einops import rearrange
from torch import nn


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)


def _fold(x: torch.Tensor):
    # put every leading dim into a single batch dim
    lead = x.shape[:-3]
    return x.reshape(-1, *x.shape[-3:]), lead


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    flat, lead = _fold(x)
    out = rearrange(flat, "b c (h i) (w j) -> b (c i j) h w", i=downscale_factor, j=downscale_factor)
    return out.reshape(*lead, *out.shape[1:])


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    flat, lead = _fold(x)
    out = rearrange(flat, "b (c i j) h w -> b c (h i) (w j)", i=upscale_factor, j=upscale_factor)
    return out.reshape(*lead, *out.shape[1:])
