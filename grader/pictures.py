"""The practical's pictures as report data: what the trusted side keeps of the trained CNN's arrays, small
enough for report.json, and read back by the pages (grader/pages/pictures.py).

An item's metrics hold `confusion` (10x10 counts, true digit by row), `embedding_sample` (the embedding of
EMBEDDED fixed test images, reduced by the worker's PCA to at most PCA_DIMS dimensions, float16, with their digits) and
`first_conv` (the first convolution's weight divided by its largest absolute value, float16). Arrays travel as {"shape", "float16_base64"}.

>>> unpack(pack(np.arange(6.0).reshape(2, 3))).tolist()
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""
from __future__ import annotations

import base64
import binascii

import numpy as np

EMBEDDED = 500          # test images whose embedding is drawn (the first ones: fixed for every student)
PCA_DIMS = 32           # the t-SNE's input, reduced by the worker: 500 x 32 float16 is 32 kB, the raw embedding MBs
MAX_FILTER_VALUES = 1 << 16   # a first conv larger than this is not drawn (and not kept)
DIGITS = 10


def pack(array: np.ndarray) -> dict:
    data = np.ascontiguousarray(array, dtype="<f2")
    return {"shape": list(data.shape), "float16_base64": base64.b64encode(data.tobytes()).decode("ascii")}


def unpack(packed: object) -> np.ndarray | None:
    """The array `pack` made, or None for anything else (a report is data: it may have been edited)."""
    if not isinstance(packed, dict) or not isinstance(packed.get("float16_base64"), str):
        return None
    shape = packed.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        return None
    try:
        raw = base64.b64decode(packed["float16_base64"], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 2 * int(np.prod(shape, dtype=np.int64)):
        return None
    return np.frombuffer(raw, dtype="<f2").reshape(shape).astype(np.float32)


def confusion(predictions: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """counts[true][predicted] over the images; predictions outside 0..9 are not counted."""
    ok = (predictions >= 0) & (predictions < DIGITS)
    counts = np.zeros((DIGITS, DIGITS), dtype=np.int64)
    np.add.at(counts, (labels[ok].astype(np.int64), predictions[ok].astype(np.int64)), 1)
    return counts.tolist()


def most_confused(counts: list[list[int]], top: int = 3) -> list[tuple[int, int, int]]:
    """The `top` largest off-diagonal cells as (true digit, predicted digit, count), largest first."""
    cells = [(n, t, p) for t, row in enumerate(counts) for p, n in enumerate(row) if t != p and n > 0]
    return [(t, p, n) for n, t, p in sorted(cells, key=lambda c: (-c[0], c[1], c[2]))[:top]]


def scaled(reduced: np.ndarray) -> np.ndarray:
    """At most 1 in absolute value, so float16 holds it (t-SNE's affinities do not change with the scale).
    Elementwise only: no BLAS call in the grader's threads."""
    return reduced / max(float(np.abs(reduced).max(initial=0.0)), 1e-12)


def embedding_sample(embedding: np.ndarray, labels: np.ndarray) -> dict:
    return {"points": pack(scaled(embedding)), "digits": "".join(str(int(d)) for d in labels)}
