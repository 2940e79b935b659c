"""Metrics, computed on the trusted side only.

PSNR convention: outputs clamped to [0, 1]; per image PSNR = 10*log10(1 / MSE) over the Y channel of
the whole centre crop; the score is the mean of the per-image PSNRs (not the PSNR of the pooled MSE).
An image whose MSE is 0 counts as 100 dB. The bicubic baseline is computed by torch (grader/oracle.py).
"""
from __future__ import annotations

import numpy as np


def psnr_per_image(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N,1,H,W) arrays in [0,1] -> (N,) PSNR in dB.

    >>> psnr_per_image(np.full((1, 1, 2, 2), 0.5), np.full((1, 1, 2, 2), 0.6)).round(6)
    array([20.])
    """
    diff = np.clip(outputs.astype(np.float64), 0, 1) - targets.astype(np.float64)
    mse = (diff ** 2).reshape(len(diff), -1).mean(axis=1)
    return np.where(mse > 0, 10 * np.log10(1 / np.maximum(mse, 1e-10)), 100.0)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of exact label matches.

    >>> accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4]))
    0.75
    """
    return float((predictions == labels).mean())
