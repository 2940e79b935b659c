"""Torch's answers for the trusted side, computed once in a short-lived trusted subprocess and cached.

The orchestrator imports numpy, never torch: a grade's largest process is then a worker (torch with the
CUDA wheel alone is ~510 MB), not the orchestrator (1012 MB when it held torch, torchvision and the decoded
data). Everything the trusted side needs from torch is made here, by our own code, in `python -m
grader.oracle`, and kept as plain .npy files in the cache (GRADER_CACHE_DIR, default ~/.cache/grader):

* the decoded data: MNIST through torchvision's IDX reader, BSDS300 through PIL's YCbCr and torchvision's
  CenterCrop / Resize (see data.py for the convention);
* the bicubic baseline of the SR test images: F.interpolate(mode="bicubic", align_corners=False);
* torch's F.pixel_shuffle / F.pixel_unshuffle of the shuffle check cases, and the gradients the module
  check expects.

The cache folder's name hashes everything that could change those files (data manifests, torch and
torchvision versions, this file, the check cases), so a stale cache is never read. The first grade on a
machine fills it (~15 s); `python -m grader data verify` fills it too.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .result import write_atomic


class OracleError(RuntimeError):
    """The trusted torch subprocess failed: a harness problem, never the student's."""


# ------------------------------------------------------------------ trusted side: numpy only
def cache_base() -> Path:
    explicit = os.environ.get("GRADER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grader"


def cache_dir() -> Path:
    from . import checks, data
    material = json.dumps({
        "manifests": [(data.MANIFESTS / d / "SHA256SUMS").read_text() for d in ("mnist", "bsds300")],
        "torch": importlib.metadata.version("torch"), "torchvision": importlib.metadata.version("torchvision"),
        "oracle": Path(__file__).read_text(), "cases": repr(checks.CHECK_CASES),
    })
    return cache_base() / hashlib.sha256(material.encode()).hexdigest()[:16]


def ensure(*names: str, data_root: Path | None = None) -> Path:
    """The cache folder, after making any of `names` that are missing from the verified data in `data_root`
    (one subprocess for all of them)."""
    folder = cache_dir()
    if all((folder / n).is_file() for n in names):
        return folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)   # it holds test labels: the owner only
    with open(folder / ".lock", "w") as lock:   # parallel batch jobs: one builds, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            call("prepare", folder=str(folder), names=missing, data_root=str(data_root or ''))
    return folder


MNIST_ARRAYS = ("train_x", "train_y", "test_x", "test_y")


def mnist_files() -> list[str]:
    return [f"mnist_{k}.npy" for k in MNIST_ARRAYS]


def bsds_files(split: str, factor: int) -> dict[str, str]:
    """{part: cache file}: the LR and HR crops, and for the test split the bicubic baseline."""
    parts = ("lr", "hr", "bicubic") if split == "test" else ("lr", "hr")
    return {part: f"bsds_{split}_x{factor}_{part}.npy" for part in parts}


def warm(data_root: Path, factors) -> Path:
    """Fill the cache with everything a grade reads (data for each SR factor, the shuffle answers)."""
    from .checks import CHECK_CASES
    names = mnist_files() + [f"shuffle_{fn}.npz" for fn in CHECK_CASES]
    for r in sorted(set(factors)):
        names += [*bsds_files("train", r).values(), *bsds_files("test", r).values()]
    return ensure(*names, data_root=data_root)


@lru_cache(maxsize=1)
def environment() -> dict:
    """{'cuda': bool, 'gpu': name or None}. No NVIDIA driver here means no CUDA, without starting torch."""
    if not (Path("/proc/driver/nvidia").exists() or any(Path("/dev").glob("nvidia[0-9]*"))):
        return {"cuda": False, "gpu": None}
    return call("environment")


def call(job: str, **params) -> dict:
    proc = subprocess.run([sys.executable, "-m", "grader.oracle", json.dumps({"job": job, **params})],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise OracleError(f"the grader's torch helper failed on '{job}' (exit {proc.returncode}):\n"
                          f"{proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the subprocess: torch and torchvision
def bicubic_upsample(lr: np.ndarray, factor: int) -> np.ndarray:
    """The baseline that earns no SR credit: torch bicubic interpolation, align_corners=False."""
    import torch
    import torch.nn.functional as F
    return F.interpolate(torch.from_numpy(np.ascontiguousarray(lr)), scale_factor=factor, mode="bicubic",
                         align_corners=False).numpy()


def decode_mnist(root: Path) -> dict[str, np.ndarray]:
    import gzip
    import shutil
    from torchvision.datasets.mnist import read_image_file, read_label_file
    from .data import MNIST_FILES
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, key, reader in zip(MNIST_FILES, ("train_x", "train_y", "test_x", "test_y"),
                                     (read_image_file, read_label_file) * 2):
            plain = Path(tmp) / name[:-3]   # torchvision reads uncompressed IDX files only
            with gzip.open(root / "mnist" / "raw" / name) as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            arrays[key] = reader(str(plain)).numpy()
    arrays["train_y"], arrays["test_y"] = arrays["train_y"].astype(np.int64), arrays["test_y"].astype(np.int64)
    return arrays


def decode_bsds(root: Path, split: str, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) float32 in [0, 1]: Y of PIL's YCbCr, CenterCrop(256 - 256 % r), Resize(crop // r)."""
    import torch
    from PIL import Image
    from torchvision.transforms import CenterCrop, Resize
    from torchvision.transforms.functional import pil_to_tensor
    crop = 256 - 256 % factor
    to_hr, to_lr = CenterCrop(crop), Resize(crop // factor)
    lrs, hrs = [], []
    for path in sorted((root / "bsds300" / "images" / split).glob("*.jpg")):
        with Image.open(path) as image:
            y = to_hr(image.convert("YCbCr").split()[0])
        hrs.append(pil_to_tensor(y))
        lrs.append(pil_to_tensor(to_lr(y)))
    scale = lambda t: torch.stack(t).float().div_(255).numpy()   # in place: one float copy, not two
    return scale(lrs), scale(hrs)


def shuffle_expectations(fn: str) -> dict[str, np.ndarray]:
    """torch's output for every case of one check, and for the module check the expected input gradient."""
    import torch
    import torch.nn.functional as F
    from .checks import CHECK_CASES, grad_weight, make_case
    torch_fn = F.pixel_unshuffle if fn == "pixel_unshuffle" else F.pixel_shuffle
    arrays = {}
    for k, (shape, r, transposed) in enumerate(CHECK_CASES[fn]):
        x, _ = make_case(shape, transposed, seed=k)
        arrays[f"out{k}"] = torch_fn(torch.from_numpy(x), r).numpy()
        if fn == "PixelShuffle":   # d/dx sum(out * w) = pixel_unshuffle(w)
            arrays[f"grad{k}"] = F.pixel_unshuffle(torch.from_numpy(grad_weight(arrays[f"out{k}"].shape, k)), r).numpy()
    return arrays


def build(folder: Path, name: str, data_root: Path) -> None:
    """Write one cache file, atomically (a reader sees the whole file or none)."""
    stem = name.rsplit(".", 1)[0]
    kind, *rest = stem.split("_")
    if kind == "mnist":
        arrays = decode_mnist(data_root)
        for key, file in zip(MNIST_ARRAYS, mnist_files()):
            save(folder / file, arrays[key])
        return
    if kind == "bsds":   # bsds_<split>_x<r>_<part>: all parts of that split and factor at once
        split, factor = rest[0], int(rest[1][1:])
        files = bsds_files(split, factor)
        lr, hr = decode_bsds(data_root, split, factor)
        save(folder / files["lr"], lr)
        save(folder / files["hr"], hr)
        if "bicubic" in files:
            save(folder / files["bicubic"], bicubic_upsample(lr, factor))
        return
    if kind == "shuffle":
        fn = stem[len("shuffle_"):]
        answers = shuffle_expectations(fn)
        write_atomic(folder / name, lambda f: np.savez(f, **answers))
        return
    raise OracleError(f"no recipe for cache file {name}")


def save(path: Path, arr: np.ndarray) -> None:
    write_atomic(path, lambda f: np.save(f, arr, allow_pickle=False))


def main(request: dict) -> dict:
    import torch
    if request["job"] == "environment":
        cuda = torch.cuda.is_available()
        return {"cuda": cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None}
    folder = Path(request["folder"])
    for name in request["names"]:
        if not (folder / name).is_file():
            build(folder, name, Path(request["data_root"]))
    return {"built": request["names"]}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
