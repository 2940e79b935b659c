"""Pixel shuffle (einops). Patterns are generated from the axis names so both directions stay consistent."""
from einops import rearrange
from torch import nn

CHANNELS, ROWS, COLS = "(c dy dx)", "(h dy)", "(w dx)"


def pixel_unshuffle(x, downscale_factor):
    return rearrange(x, f"... c {ROWS} {COLS} -> ... {CHANNELS} h w", dy=downscale_factor, dx=downscale_factor)


def pixel_shuffle(x, upscale_factor):
    return rearrange(x, f"... {CHANNELS} h w -> ... c {ROWS} {COLS}", dy=upscale_factor, dx=upscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return pixel_shuffle(x, self.upscale_factor)
