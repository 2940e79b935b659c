"""RED TEAM (also fix): a wrong channel order, (r1 r2 c) instead of torch's (c r1 r2), in both directions.
With one output channel (C = 1) the two orders give the same result: a case like that passed it."""
import torch
from einops import rearrange
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    r = upscale_factor
    return rearrange(x, "... (r1 r2 c) h w -> ... c (h r1) (w r2)", r1=r, r2=r)


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    r = downscale_factor
    return rearrange(x, "... c (h r1) (w r2) -> ... (r1 r2 c) h w", r1=r, r2=r)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)
