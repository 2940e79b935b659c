"""RED TEAM: torch's own shuffle run where a tracer might not look: with the Python dispatch modes popped
off the stack, and on another thread; the profiler hook is switched off too."""
import sys
import threading

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils._python_dispatch import _disable_current_modes


def _elsewhere(fn, *args):
    box = []
    t = threading.Thread(target=lambda: box.append(fn(*args)))
    t.start()
    t.join()
    return box[0]


def pixel_shuffle(x, upscale_factor):
    rearrange(x, "... h w -> ... h w")
    with _disable_current_modes():
        return F.pixel_shuffle(x, upscale_factor)


def pixel_unshuffle(x, downscale_factor):
    rearrange(x, "... h w -> ... h w")
    return _elsewhere(F.pixel_unshuffle, x, downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        rearrange(x, "... h w -> ... h w")
        profiler = sys.getprofile()
        sys.setprofile(None)                 # hide from a profiler ...
        try:
            with _disable_current_modes():   # ... and from dispatch modes
                return F.pixel_shuffle(x, self.upscale_factor)
        finally:
            sys.setprofile(profiler)         # and put it back
