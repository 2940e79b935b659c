"""The data loaders on the real files (GRADER_DATA_DIR), and verify()'s diagnosis of a damaged copy."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import PATHS
from grader import oracle
from grader.data import FIX, DataError, Datasets, verify
from grader.paths import DataPaths, manifest

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Datasets:
    """The real data with a cold decode cache: these tests exercise torchvision's decoding (grader/oracle.py),
    not a leftover. Another DataPaths is another cache entry of the loaders: nothing to clear or patch."""
    return Datasets(DataPaths(PATHS.data, tmp_path_factory.mktemp("decode-cache")))


@pytest.fixture(scope="module")
def mnist(fresh):
    return fresh.mnist()


def test_decoded_arrays_are_cached_for_the_owner_only(mnist, fresh):
    """The cache holds test labels and HR images, so the folder is private; a stale key is never read."""
    folder = oracle.cache_dir(fresh.paths)
    assert folder.parent == fresh.paths.cache
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert {"mnist_train_x.npy", "mnist_test_y.npy"} <= {p.name for p in folder.iterdir()}
    assert np.array_equal(np.load(folder / "mnist_test_y.npy"), mnist.test_y)


def test_a_changed_cache_file_is_rebuilt_and_never_graded_on(mnist, fresh, capsys):
    """Issue 11, class 1: a planted symlink once let the grader overwrite the cached training arrays, and the
    next grades used them. Now every load checks the checksum recorded when the file was made."""
    path = oracle.cache_dir(fresh.paths) / "mnist_test_y.npy"
    made = path.read_bytes()
    np.save(path, np.zeros(10000, np.int64))   # a valid array with other values, as that attack wrote
    labels = oracle.load(fresh.paths, "mnist_test_y.npy")
    warning = capsys.readouterr().err
    assert "mnist_test_y.npy" in warning and "does not match the checksum" in warning and "rebuilding" in warning
    assert np.array_equal(labels, mnist.test_y) and path.read_bytes() == made   # rebuilt bit-identical
    assert not labels.flags.writeable


def test_the_real_data_verifies():
    verify(PATHS.data)    # every file of both manifests present, with the committed checksum
    assert len(manifest("mnist")) == 4
    assert len(manifest("bsds300")) == 300


def test_mnist_shapes_and_dtypes(mnist):
    assert mnist.train_x.shape == (60000, 28, 28) and mnist.train_x.dtype == np.uint8
    assert mnist.test_x.shape == (10000, 28, 28) and mnist.test_x.dtype == np.uint8
    assert mnist.train_y.shape == (60000,) and mnist.train_y.dtype == np.int64
    assert mnist.test_y.shape == (10000,) and mnist.test_y.dtype == np.int64


def test_mnist_label_counts(mnist):
    assert np.bincount(mnist.test_y, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert np.bincount(mnist.train_y, minlength=10).tolist() == MNIST_TRAIN_COUNTS


def test_mnist_images_look_like_digits(mnist):
    # white strokes on black: borders are background, the centre has ink, full uint8 range used
    assert mnist.test_x.max() == 255 and mnist.test_x.min() == 0
    assert mnist.test_x[:, 0, :].max() == 0 or mnist.test_x[:, 0, :].mean() < 1
    assert mnist.test_x[:, 10:18, 10:18].mean() > 5 * mnist.test_x[:, :4, :].mean()
    # the images differ (not one image repeated) and train/test are different sets
    assert len({img.tobytes() for img in mnist.test_x[:500]}) == 500
    assert not np.array_equal(mnist.train_x[:100], mnist.test_x[:100])


@pytest.fixture(scope="module")
def bsds_test_x2(fresh):
    return fresh.bsds("test", 2)


def test_bsds_test_split_x2(bsds_test_x2):
    split = bsds_test_x2
    assert split.lr.shape == (100, 1, 128, 128)
    assert split.hr.shape == (100, 1, 256, 256)
    assert split.lr.dtype == np.float32 and split.hr.dtype == np.float32
    for arr in (split.lr, split.hr):
        assert arr.min() >= 0.0 and arr.max() <= 1.0
        assert arr.max() > 0.9 and arr.min() < 0.1    # scaled /255, not left as 0..255 or squashed
    expected_names = sorted(Path(rel).stem for rel in manifest("bsds300") if rel.startswith("images/test/"))
    assert list(split.names) == expected_names
    assert len(set(split.names)) == 100


def test_bsds_lr_is_a_downscaled_hr(bsds_test_x2):
    """LR and HR are aligned: LR is close to a 2x2 average of HR, far from another image's HR."""
    lr, hr = torch.tensor(bsds_test_x2.lr), torch.tensor(bsds_test_x2.hr)
    pooled = F.avg_pool2d(hr, 2)
    own = (lr - pooled).abs().mean().item()
    other = (lr - pooled.roll(1, dims=0)).abs().mean().item()
    assert own < 0.03, own
    assert other > 5 * own


def test_bicubic_baseline_is_torch_bicubic_of_the_lr(bsds_test_x2):
    want = F.interpolate(torch.tensor(bsds_test_x2.lr[:5]), scale_factor=2, mode="bicubic", align_corners=False)
    assert bsds_test_x2.bicubic.shape == bsds_test_x2.hr.shape
    assert np.array_equal(bsds_test_x2.bicubic[:5], want.numpy())


def test_bsds_x3_crop_is_255(fresh):
    split = fresh.bsds("test", 3)
    assert split.hr.shape == (100, 1, 255, 255)
    assert split.lr.shape == (100, 1, 85, 85)
    assert split.lr.min() >= 0 and split.hr.max() <= 1


def test_bsds_train_split_has_200_images(fresh):
    split = fresh.bsds("train", 4)
    assert split.hr.shape == (200, 1, 256, 256) and split.lr.shape == (200, 1, 64, 64)


# ------------------------------------------------------------------ verify() on a damaged copy
@pytest.fixture
def data_copy(tmp_path):
    root = tmp_path / "data copy"
    shutil.copytree(PATHS.data, root)
    return root


def test_verify_names_missing_and_corrupt_files_the_folder_and_the_fix(data_copy):
    verify(data_copy)     # the intact copy passes
    missing = "bsds300/images/test/101085.jpg"
    corrupt = "mnist/raw/t10k-labels-idx1-ubyte.gz"
    (data_copy / missing).unlink()
    target = data_copy / corrupt
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF                    # one flipped byte, same size
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        verify(data_copy)
    message = str(info.value)
    assert f"missing: {missing}\n" in message
    assert f"wrong checksum: {corrupt}\n" in message
    assert "1 missing and 1 with a wrong checksum" in message
    assert str(data_copy) in message
    assert "`python -m grader data download`" in message
    assert "set GRADER_DATA_DIR to a folder holding mnist/raw/ and bsds300/images/" in message


def test_loaders_refuse_damaged_data(data_copy):
    (data_copy / "mnist/raw/train-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    damaged = Datasets(DataPaths(data_copy, PATHS.cache))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        damaged.mnist()
    (data_copy / "bsds300/images/train/2092.jpg").unlink()
    with pytest.raises(DataError, match="bsds300/images/train/2092.jpg"):
        damaged.bsds("train", 2)


def test_an_empty_data_folder_lists_every_missing_file_by_folder(tmp_path):
    empty = tmp_path / "nothing here"
    empty.mkdir()
    with pytest.raises(DataError) as info:
        verify(empty)
    message = str(info.value)
    assert f"304 missing in {empty}" in message
    for rel in ("raw/train-images-idx3-ubyte.gz", "raw/t10k-labels-idx1-ubyte.gz"):
        assert f"missing: mnist/{rel}\n" in message      # every MNIST file by name
    assert "missing: bsds300/images/train/ (all 200 files)" in message   # a missing folder in one line
    assert "missing: bsds300/images/test/ (all 100 files)" in message
    assert f"`{FIX}`" in message


def test_data_paths_are_absolute_and_resolved_once_where_the_command_starts(tmp_path, monkeypatch):
    (tmp_path / "course" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "course")
    monkeypatch.setenv("GRADER_DATA_DIR", "data")
    monkeypatch.setenv("GRADER_CACHE_DIR", "cache")
    paths = DataPaths.from_environment()
    assert paths.data == tmp_path / "course" / "data" and paths.cache == tmp_path / "course" / "cache"
    monkeypatch.chdir(tmp_path)          # a later process elsewhere gets the same folders
    assert paths.environment() == {"GRADER_DATA_DIR": str(tmp_path / "course" / "data"),
                                   "GRADER_CACHE_DIR": str(tmp_path / "course" / "cache")}
    assert DataPaths.from_environment(data=paths.environment()["GRADER_DATA_DIR"]).data == paths.data
