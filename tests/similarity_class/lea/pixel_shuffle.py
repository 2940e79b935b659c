"""Exercise 3: einops pixel shuffle."""
import torch
from einops import rearrange
from torch import nn


def _patterns(r: int) -> dict:
    # both directions share the same two halves
    packed, spread = "... (c p q) h w", "... c (h p) (w q)"
    return {"shuffle": f"{packed} -> {spread}", "unshuffle": f"{spread} -> {packed}", "p": r, "q": r}


def _apply(x: torch.Tensor, r: int, which: str) -> torch.Tensor:
    spec = _patterns(r)
    return rearrange(x, spec[which], p=spec["p"], q=spec["q"])


def pixel_shuffle(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    # (*, C*r*r, H, W) -> (*, C, H*r, W*r)
    return _apply(x, upscale_factor, "shuffle")


def pixel_unshuffle(x: torch.Tensor, downscale_factor: int) -> torch.Tensor:
    # (*, C, H*r, W*r) -> (*, C*r*r, H, W)
    return _apply(x, downscale_factor, "unshuffle")


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _apply(x, self.upscale_factor, "shuffle")
