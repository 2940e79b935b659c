"""The inputs the grader sends to student code, and how they are generated (numpy only).

Torch's answers to the shuffle cases are computed once by grader/oracle.py and cached; that cache's key
hashes this file's source, so changing a case, a seed or a generator here can never pair new inputs with
stale answers.

>>> logical, stored = make_case((1, 4, 2, 3), transposed=True, seed=0)
>>> stored.shape, sorted(logical.ravel().tolist()) == list(range(24))
((1, 4, 3, 2), True)
"""
from __future__ import annotations

import numpy as np

# (logical input shape, r, stored transposed = non-contiguous in the worker): r in 2..4, H != W, leading dims,
# and C > 1 output channels in every case: with C = 1 the orders (c r1 r2), (r1 c r2) and (r1 r2 c) give the
# same output, so such a case would pass a wrong channel order (tests/test_shuffle_checks.py checks each case
# fails every wrong order of (c r1 r2))
SHUFFLE_CASES = [
    ((2, 12, 3, 5), 2, False),
    ((1, 18, 4, 2), 3, False),
    ((2, 32, 2, 3), 4, False),
    ((2, 3, 8, 5, 7), 2, False),
    ((2, 27, 5, 4), 3, True),
    ((1, 8, 3, 3), 2, False),
]
UNSHUFFLE_CASES = [((2, 3, 6, 10), 2, False), ((1, 2, 9, 6), 3, False), ((2, 2, 2, 8, 12), 4, False),
                   ((2, 3, 4, 6), 2, True)]
MODULE_CASES = [((2, 12, 3, 5), 2, False), ((1, 2, 18, 4, 2), 3, True)]
CHECK_CASES = {"pixel_shuffle": SHUFFLE_CASES, "PixelShuffle": MODULE_CASES, "pixel_unshuffle": UNSHUFFLE_CASES}

CNN_PROBE_SHAPE = (3, 1, 28, 28)
SR_PROBE_SHAPE = (2, 1, 17, 23)
SR_FACTORS = (2, 3, 4)


def make_case(shape, transposed: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(logical input, what is stored and sent): distinct values (a permutation of 0..n-1), so any misplaced
    element shows; a transposed case is stored transposed and the worker views it back, non-contiguous."""
    logical = np.random.default_rng(seed).permutation(int(np.prod(shape))).astype(np.float32).reshape(shape)
    stored = np.ascontiguousarray(np.swapaxes(logical, -1, -2)) if transposed else logical
    return logical, stored


def grad_weight(shape, k: int) -> np.ndarray:
    """The w of the gradient check d/dx sum(PixelShuffle(x) * w), which must equal pixel_unshuffle(w)."""
    return np.random.default_rng(100 + k).standard_normal(shape, dtype=np.float32)


def cnn_probe() -> np.ndarray:
    return np.random.default_rng(1).standard_normal(CNN_PROBE_SHAPE).astype(np.float32)


def sr_probe() -> np.ndarray:
    return np.random.default_rng(2).random(SR_PROBE_SHAPE, dtype=np.float32)
