"""Likely mistakes behind a wrong output shape, in the practical's terms. No imports: the trusted side
(grader/checks/sr.py) words its messages with these too, and importing this must not import torch."""
from __future__ import annotations


def sr_shape_hint(got: tuple, given: tuple, factor: int) -> str:
    """Why Net(factor) turned an input of shape `given` (B, 1, H, W) into `got`, if it is a known mistake."""
    b, _, h, w = given
    if tuple(got) == (b, factor * factor, h, w):
        return (f" (that is r*r = {factor * factor} channels at the input size: the last conv's output is not "
                f"pixel-shuffled; end forward with your PixelShuffle({factor}))")
    if tuple(got) == (b, 1, h, w):
        return " (the input size: nothing upscales; the last conv should give r*r channels, then PixelShuffle(r))"
    return ""
