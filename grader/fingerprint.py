"""Behaviour fingerprints: what a student's trained models did, small enough to keep in the report.

Computed on the trusted side from the outputs it already scores (grader/checks/), stored in the item
metrics as `fingerprint`, and compared across a class by grader/similarity/behaviour.py. The grader trains every
submission with the same seeds and data order, so two submissions whose models are built the same way
(the same layers created in the same order) train to the same weights and give the same outputs, whatever
the variable names, comments or function order; independently written models do not.

* MNIST: the 10,000 test predictions with every correct one replaced by NO_ERROR, 4 bits each, zlib, base64
  (about 0.5 KB for a 98% model). Only the mistakes and their wrong labels remain: two good classifiers
  agree on ~98% of the labels anyway, what tells them apart is *which* images they get wrong, and how.
* SR: SR_SAMPLES pixels at fixed positions of the test outputs, quantized to 8 bits (2.7 KB).
Text form: "<kind>:v1:<base64>". A malformed or foreign string decodes to None, never raises.
"""
from __future__ import annotations

import base64
import binascii
import zlib

import numpy as np

NO_ERROR = 15
SR_SAMPLES = 2048
_VERSION = "v1"


def _encode(kind: str, raw: bytes) -> str:
    return f"{kind}:{_VERSION}:" + base64.b64encode(zlib.compress(raw, 9)).decode()


def _decode(kind: str, text: object) -> bytes | None:
    if not isinstance(text, str) or not text.startswith(f"{kind}:{_VERSION}:"):
        return None
    try:
        return zlib.decompress(base64.b64decode(text.split(":", 2)[2], validate=True), bufsize=1 << 16)
    except (binascii.Error, zlib.error, ValueError):
        return None


def mnist(predictions: np.ndarray, labels: np.ndarray) -> str:
    """Fingerprint of predicted labels (N,) against the true `labels` (N,)."""
    mistakes = np.where(predictions == labels, NO_ERROR, predictions).astype(np.uint8)
    if len(mistakes) % 2:
        mistakes = np.append(mistakes, np.uint8(NO_ERROR))
    return _encode("mnist", ((mistakes[0::2] << 4) | mistakes[1::2]).astype(np.uint8).tobytes())


def mnist_mistakes(text: object) -> np.ndarray | None:
    """The per-image wrong label (NO_ERROR where the prediction was right), or None."""
    raw = _decode("mnist", text)
    if raw is None:
        return None
    packed = np.frombuffer(raw, dtype=np.uint8)
    return np.stack([packed >> 4, packed & 15], axis=1).reshape(-1)


def sr_positions(shape: tuple[int, ...]) -> np.ndarray:
    """The fixed flat indices sampled from outputs of `shape` (the same for every student)."""
    size = int(np.prod(shape))
    return np.sort(np.random.default_rng(20240).choice(size, size=min(SR_SAMPLES, size), replace=False))


def sr(outputs: np.ndarray) -> str:
    """Fingerprint of the super-resolved test images (N, 1, H, W), values in [0, 1]."""
    sample = outputs.reshape(-1)[sr_positions(outputs.shape)]
    return _encode("sr", np.round(np.clip(np.nan_to_num(sample), 0, 1) * 255).astype(np.uint8).tobytes())


def sr_pixels(text: object) -> np.ndarray | None:
    raw = _decode("sr", text)
    return None if raw is None else np.frombuffer(raw, dtype=np.uint8)


def shared_mistakes(a: np.ndarray, b: np.ndarray) -> float:
    """Of the images either model gets wrong, the fraction both get wrong with the same label (1.0: same
    behaviour). Error consistency in the spirit of Geirhos et al. 2020, on labels rather than right/wrong."""
    wrong = (a != NO_ERROR) | (b != NO_ERROR)
    if not wrong.any():
        return 1.0
    return float(((a == b) & wrong).sum() / wrong.sum())


def same_pixels(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of sampled output pixels that are equal after 8-bit quantization."""
    return float((a == b).mean()) if len(a) == len(b) and len(a) else 0.0
