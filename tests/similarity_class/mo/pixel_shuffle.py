"""My pixel shuffle. I use einops.rearrange, naming the sub-pixel axes u and v."""
from einops import rearrange
from torch import nn


def pixel_shuffle(x, upscale_factor):
    """Sub-pixels of each channel go to an r x r block of the output."""
    return rearrange(x, "... (k u v) y x -> ... k (y u) (x v)", u=upscale_factor, v=upscale_factor)


def pixel_unshuffle(x, downscale_factor):
    """Every r x r block becomes r*r channels."""
    return rearrange(x, "... k (y u) (x v) -> ... (k u v) y x", u=downscale_factor, v=downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return pixel_shuffle(x, self.upscale_factor)
