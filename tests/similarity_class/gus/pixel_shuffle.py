import torch
import einops
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    # the channel dim is c*r*r with c outermost, like torch
    out = einops.rearrange(x, '... (c a b) h w -> ... c h a w b', a=upscale_factor, b=upscale_factor)
    return einops.rearrange(out, '... c h a w b -> ... c (h a) (w b)')


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    out = einops.rearrange(x, '... c (h a) (w b) -> ... c a b h w', a=downscale_factor, b=downscale_factor)
    return einops.rearrange(out, '... c a b h w -> ... (c a b) h w')


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.upscale_factor)
