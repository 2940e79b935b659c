"""What actually executes when student code runs: aten ops, torch's own shuffle kernels, and einops.

Two independent recorders, because a submission may try to use torch's pixel_shuffle while claiming einops:
- `OpRecorder`, a dispatch mode: every aten op called on this thread while it is active;
- torch's pixel_(un)shuffle kernels replaced, for the whole process, by equivalents that first append to
  `SHUFFLE_LOG`. Unlike the dispatch mode (per thread, and a submission can pop it off the mode stack) this
  sees every call however it is reached: aliases, getattr, nn.PixelShuffle, other threads.
"""
from __future__ import annotations

import sys

import torch

from .student import StudentError
from .torch_compat import DispatchRecorder, TorchCompatError, override_kernels

SHUFFLE_LOG: list[str] = []


class OpRecorder(DispatchRecorder):
    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def logged_pixel_shuffle(x, r):
    SHUFFLE_LOG.append("pixel_shuffle")
    *lead, c, h, w = x.shape
    out = x.reshape(*lead, c // (r * r), r, r, h, w).movedim((-4, -3), (-3, -1))
    return out.reshape(*lead, c // (r * r), h * r, w * r).clone(memory_format=torch.contiguous_format)


def logged_pixel_unshuffle(x, r):
    SHUFFLE_LOG.append("pixel_unshuffle")
    *lead, c, h, w = x.shape
    out = x.reshape(*lead, c, h // r, r, w // r, r).movedim((-3, -1), (-4, -3))
    return out.reshape(*lead, c * r * r, h // r, w // r).clone(memory_format=torch.contiguous_format)


def shuffle_probe():
    """The check that torch's shuffle kernels are still the logging ones (a submission could unregister
    them), bound now to the objects it needs so that later patches of this module cannot change it."""
    log, ops = SHUFFLE_LOG, (torch.ops.aten.pixel_shuffle.default, torch.ops.aten.pixel_unshuffle.default)

    def log_works() -> bool:
        before = len(log)
        try:
            ops[0](torch.zeros(1, 4, 1, 1), 2)
            ops[1](torch.zeros(1, 1, 2, 2), 2)
        except Exception:
            return False
        works = len(log) == before + 2
        del log[before:]
        return works

    return log_works


def install_shuffle_log():
    """Replace torch's shuffle kernels by the logging ones; keep the returned object alive as long as they
    should stay (they are unregistered when it is collected)."""
    library = override_kernels("aten", {"pixel_shuffle": logged_pixel_shuffle,
                                        "pixel_unshuffle": logged_pixel_unshuffle})
    if not shuffle_probe()():
        raise TorchCompatError('torch.library.Library("aten", "IMPL")',
                               "did not replace torch's pixel_shuffle / pixel_unshuffle CPU kernels")
    return library


def traced_call(fn, *args):
    """Run fn(*args); return (result, aten ops seen, whether any einops code ran)."""
    einops_ran = False
    logged = len(SHUFFLE_LOG)

    def profiler(frame, event, arg):
        nonlocal einops_ran
        if event == "call" and frame.f_globals.get("__name__", "").startswith("einops"):
            einops_ran = True

    recorder = OpRecorder()
    sys.setprofile(profiler)
    try:
        with recorder:
            result = fn(*args)
    finally:
        still_ours = sys.getprofile() is profiler
        sys.setprofile(None)
    ops = recorder.ops | set(SHUFFLE_LOG[logged:])
    if len(SHUFFLE_LOG) < logged or not still_ours:
        raise StudentError("the submission tampered with the grader's instrumentation (sys.setprofile or the "
                           "torch call log); this case is not graded")
    return result, sorted(ops), einops_ran
