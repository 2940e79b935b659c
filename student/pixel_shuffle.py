"""Part 3: rewrite pixel shuffle with einops.

Graded (see grading.yaml): output shapes, exact values against torch.nn.functional.pixel_shuffle /
pixel_unshuffle (C > 1, r in 2..4, H != W, extra leading dimensions, non-contiguous inputs), the
PixelShuffle module's values and gradients, and that einops does the work: calling torch's own
pixel_shuffle / nn.PixelShuffle / pixel_unshuffle here earns 0 for the item that calls it.

Hint: an `einops.rearrange` pattern that starts with `...` handles any number of leading dimensions.
Think about the ORDER of c, r1, r2 in the channel axis: torch packs channel c's r*r sub-pixels next to
each other. A test with C=1 cannot tell (r1 r2 c) from (c r1 r2).
"""
import torch
from einops import rearrange  # noqa: F401  (you will need it)
from torch import nn


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), exactly like torch.nn.functional.pixel_shuffle."""
    raise NotImplementedError("pixel_shuffle: write it with einops.rearrange")


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), exactly like torch.nn.functional.pixel_unshuffle."""
    raise NotImplementedError("pixel_unshuffle: write it with einops.rearrange")


class PixelShuffle(nn.Module):
    """Drop-in replacement for nn.PixelShuffle(upscale_factor), using your pixel_shuffle."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("PixelShuffle.forward: call your pixel_shuffle")
