"""RED TEAM: return objects whose comparisons lie (a Tensor subclass, and an ndarray subclass)."""
import numpy as np
import torch
from einops import rearrange
from torch import nn


class Liar(torch.Tensor):
    def __eq__(self, other):
        return torch.ones(self.shape, dtype=torch.bool)
    __ne__ = lambda self, other: torch.zeros(self.shape, dtype=torch.bool)
    def equal(self, other):
        return True
    def __array__(self, *a, **k):
        return np.asarray(torch.zeros(self.shape))


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


def pixel_shuffle(x, upscale_factor):
    r = upscale_factor
    wrong = torch.zeros_like(rearrange(x, "... (c r1 r2) h w -> ... c (h r1) (w r2)", r1=r, r2=r))
    return wrong.as_subclass(Liar)


def pixel_unshuffle(x, downscale_factor):
    r = downscale_factor
    out = rearrange(x, "... c (h r1) (w r2) -> ... (c r1 r2) h w", r1=r, r2=r)
    return np.zeros(out.shape, dtype=np.float32).view(LyingArray)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return (x * 0).sum() + pixel_shuffle(x, self.upscale_factor)
