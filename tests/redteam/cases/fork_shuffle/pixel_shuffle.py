"""RED TEAM (class 3: evidence gathered in the student's process): torch's own shuffle run in an os.fork
child, so the parent's logging kernels and dispatch-mode recorder never see it; the result comes back through
a pipe, and a real einops call in the parent makes the trace say "einops ran"."""
import os

import numpy as np
import torch
from einops import rearrange
from torch import nn

_NAMES = {"s": "pixel_" + "shuffle", "u": "pixel_" + "unshuffle"}


def _in_child(kind, x, r):
    fn = getattr(torch.nn.functional, _NAMES[kind])
    data = x.detach().contiguous().numpy()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        out = fn(torch.from_numpy(data), r).numpy()
        header = np.array(out.shape, dtype=np.int64)
        payload = np.int64(len(header)).tobytes() + header.tobytes() + out.tobytes()
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view):]
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 20):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    raw = b"".join(chunks)
    ndim = int(np.frombuffer(raw[:8], np.int64)[0])
    shape = tuple(np.frombuffer(raw[8:8 + 8 * ndim], np.int64))
    out = torch.from_numpy(np.frombuffer(raw[8 + 8 * ndim:], dtype=data.dtype).reshape(shape).copy())
    return rearrange(out, "... h w -> ... h w")      # einops "does the work"


def pixel_shuffle(x, upscale_factor):
    return _in_child("s", x, upscale_factor)


def pixel_unshuffle(x, downscale_factor):
    return _in_child("u", x, downscale_factor)


class _Shuffle(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, r):
        ctx.r = r
        return _in_child("s", x, r)

    @staticmethod
    def backward(ctx, grad):
        return _in_child("u", grad, ctx.r), None


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return _Shuffle.apply(x, self.upscale_factor)
