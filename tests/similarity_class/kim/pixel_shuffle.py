"""Part three. einops re-implementation of pixel shuffling."""
import torch
from einops import rearrange
from einops.layers.torch import Rearrange
from torch import nn

PATTERN_UP = "... (ch sy sx) y x -> ... ch (y sy) (x sx)"
PATTERN_DOWN = "... ch (y sy) (x sx) -> ... (ch sy sx) y x"


class PixelShuffle(nn.Module):
    """nn.Module wrapper (einops layer inside)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor
        self.op = Rearrange(PATTERN_UP, sy=upscale_factor, sx=upscale_factor)

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.op(tensor)


def pixel_unshuffle(tensor: torch.Tensor, r: int) -> torch.Tensor:
    return rearrange(tensor, PATTERN_DOWN, sy=r, sx=r)


def pixel_shuffle(tensor: torch.Tensor, r: int) -> torch.Tensor:
    return rearrange(tensor, PATTERN_UP, sy=r, sx=r)
