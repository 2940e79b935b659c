"""RED TEAM: patch the grader's worker (it is __main__ in the worker process) so it reports that einops,
and nothing else, ran; then use torch's own shuffle."""
import json
import sys

import torch.nn.functional as F
from torch import nn

main = sys.modules["__main__"]
if hasattr(main, "traced_call"):
    main.traced_call = lambda fn, *args: (fn(*args), [], True)
if hasattr(main, "_OpRecorder"):
    main._OpRecorder.__torch_dispatch__ = lambda self, func, types, args=(), kwargs=None: func(*args, **(kwargs or {}))
_dumps = json.dumps


def _scrub(obj, *a, **k):       # and strip any trace of torch's shuffle from what the worker sends
    text = _dumps(obj, *a, **k)
    return text.replace('"pixel_shuffle"', '"view"').replace('"pixel_unshuffle"', '"view"').replace(
        '"einops": false', '"einops": true')


json.dumps = _scrub


def pixel_shuffle(x, upscale_factor):
    return F.pixel_shuffle(x, upscale_factor)


def pixel_unshuffle(x, downscale_factor):
    return F.pixel_unshuffle(x, downscale_factor)


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)
