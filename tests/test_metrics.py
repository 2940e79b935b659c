"""The trusted metrics and the credit curve, against values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.config import Threshold
from grader.metrics import accuracy, psnr_per_image
from grader.oracle import bicubic_upsample


def img(value, shape=(1, 1, 4, 6), dtype=np.float64):
    return np.full(shape, value, dtype=dtype)


# ------------------------------------------------------------------ PSNR
def test_mse_of_one_hundredth_is_20_db():
    # float64 arithmetic on exact binary fractions: 0.75 - 0.625 = 1/8, MSE 1/64, PSNR = 10 log10 64
    out = psnr_per_image(img(0.75), img(0.625))
    assert out.shape == (1,)
    assert out[0] == pytest.approx(10 * math.log10(64), abs=1e-12)
    # MSE 0.01 -> exactly 20 dB (up to float rounding of 0.1)
    assert psnr_per_image(img(0.5), img(0.6))[0] == pytest.approx(20.0, abs=1e-9)
    assert psnr_per_image(img(0.3, (2, 1, 3, 3)), img(0.2, (2, 1, 3, 3))) == pytest.approx([20.0, 20.0], abs=1e-9)


def test_psnr_averages_the_squared_error_over_every_pixel():
    # half the pixels exact, half off by 0.2: MSE = 0.5 * 0.04 = 0.02
    out, target = img(0.5, (1, 1, 2, 2)), img(0.5, (1, 1, 2, 2))
    out[0, 0, 0, :] = 0.7
    assert psnr_per_image(out, target)[0] == pytest.approx(10 * math.log10(1 / 0.02), abs=1e-6)


def test_outputs_are_clamped_to_the_unit_interval_before_comparing():
    assert psnr_per_image(img(1.5), img(1.0))[0] == 100.0                    # clamped to 1: exact
    assert psnr_per_image(img(-0.3), img(0.0))[0] == 100.0                   # clamped to 0: exact
    assert psnr_per_image(img(-0.3), img(0.1))[0] == pytest.approx(20.0, abs=1e-6)   # 0 vs 0.1
    assert psnr_per_image(img(7.0), img(0.9))[0] == pytest.approx(20.0, abs=1e-6)    # 1 vs 0.9
    # without clamping, 1.5 vs 1.0 would be MSE 0.25 = 6.02 dB
    assert psnr_per_image(img(1.5), img(1.0))[0] != pytest.approx(10 * math.log10(4))


def test_a_perfect_image_counts_as_100_db():
    x = np.random.default_rng(0).random((3, 1, 5, 7)).astype(np.float32)
    assert psnr_per_image(x, x).tolist() == [100.0, 100.0, 100.0]


def test_mean_of_per_image_psnr_is_not_the_psnr_of_the_pooled_mse():
    outputs = np.stack([img(0.5, (1, 4, 4)), img(0.5, (1, 4, 4))])
    targets = np.stack([img(0.6, (1, 4, 4)), img(0.51, (1, 4, 4))])
    per_image = psnr_per_image(outputs, targets)
    assert per_image == pytest.approx([20.0, 40.0], abs=1e-5)            # MSE 0.01 and 0.0001
    assert per_image.mean() == pytest.approx(30.0, abs=1e-5)             # the graded number
    pooled = 10 * math.log10(1 / ((0.01 + 0.0001) / 2))                  # 22.967 dB: not what is graded
    assert pooled == pytest.approx(22.9671, abs=1e-4)
    assert abs(per_image.mean() - pooled) > 7


def test_psnr_is_per_image_and_order_preserving():
    rng = np.random.default_rng(3)
    targets = rng.random((5, 1, 8, 8)).astype(np.float32)
    noise = np.array([0.0, 0.01, 0.05, 0.1, 0.2], dtype=np.float32)[:, None, None, None]
    outputs = targets + noise * np.sign(rng.standard_normal(targets.shape)).astype(np.float32)
    per_image = psnr_per_image(outputs, targets)
    assert per_image.shape == (5,)
    assert per_image[0] == 100.0
    assert all(np.diff(per_image) < 0)
    # one image's PSNR does not depend on the others in the batch
    assert psnr_per_image(outputs[2:3], targets[2:3])[0] == pytest.approx(per_image[2])


# ------------------------------------------------------------------ accuracy
def test_accuracy_by_hand():
    assert accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    assert accuracy(np.arange(10), np.arange(10)) == 1.0
    assert accuracy(np.zeros(8, int), np.ones(8, int)) == 0.0
    assert accuracy(np.array([3, 3, 3]), np.array([3, 1, 2])) == pytest.approx(1 / 3)
    assert isinstance(accuracy(np.array([1]), np.array([1])), float)


# ------------------------------------------------------------------ bicubic baseline
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_bicubic_upsample_shape_dtype_and_constants(factor):
    lr = np.random.default_rng(factor).random((3, 1, 5, 7)).astype(np.float32)
    up = bicubic_upsample(lr, factor)
    assert up.shape == (3, 1, 5 * factor, 7 * factor)
    assert up.dtype == np.float32
    flat = bicubic_upsample(img(0.25, (2, 1, 4, 6), np.float32), factor)
    assert np.allclose(flat, 0.25, atol=1e-6)   # interpolating a constant gives the constant


# ------------------------------------------------------------------ credit curve
def test_credit_by_hand():
    t = Threshold(zero_at=0.90, full_at=0.95)
    assert t.credit(0.90) == 0.0
    assert t.credit(0.95) == 1.0
    assert t.credit(0.925) == pytest.approx(0.5)
    assert t.credit(0.94) == pytest.approx(0.8)
    assert t.credit(0.5) == 0.0 and t.credit(-1e9) == 0.0
    assert t.credit(0.99) == 1.0 and t.credit(1e9) == 1.0
    assert t.credit(float("nan")) == 0.0
    assert t.credit(float("inf")) == 1.0 and t.credit(float("-inf")) == 0.0


@settings(max_examples=30, deadline=None)
@given(zero=st.floats(-100, 100), width=st.floats(0.01, 100), frac=st.floats(0, 1))
def test_credit_is_linear_between_the_thresholds(zero, width, frac):
    t = Threshold(zero, zero + width)
    value = zero + frac * width
    assert t.credit(value) == pytest.approx(frac, abs=1e-6)
    assert 0.0 <= t.credit(value) <= 1.0


@settings(max_examples=30, deadline=None)
@given(zero=st.floats(-100, 100), width=st.floats(0.01, 100), beyond=st.floats(0, 1e6))
def test_credit_is_clamped_outside_the_thresholds(zero, width, beyond):
    t = Threshold(zero, zero + width)
    assert t.credit(zero - beyond) == 0.0
    assert t.credit(zero + width + beyond) == 1.0


@settings(max_examples=30, deadline=None)
@given(zero=st.floats(-100, 100), width=st.floats(0.01, 100), a=st.floats(-300, 300), b=st.floats(-300, 300))
def test_credit_never_decreases(zero, width, a, b):
    t = Threshold(zero, zero + width)
    lo, hi = min(a, b), max(a, b)
    assert t.credit(lo) <= t.credit(hi)
