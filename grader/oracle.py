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
torchvision versions, this file, and grader/cases.py, which holds the check cases and the generators of
their inputs), so a stale cache is never read. This module owns the cache's file names. The first grade on a
machine fills it (~15 s); `python -m grader data verify` fills it too.

The subprocess records the SHA-256 of every file it writes in the folder's SHA256SUMS.json, and `load()`
reads a file whole, checks it against that record and parses the bytes it checked (no second read to race
with). A file that does not match (replaced through a planted symlink, truncated by a full disk, edited by
hand) is rebuilt once, with a warning on stderr; a grade never runs on it.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import cases
from .errors import OracleError
from .paths import DATASETS, MANIFESTS, MNIST_FILES, DataPaths, bsds_images, mnist_raw
from .result import write_atomic


# ------------------------------------------------------------------ trusted side: numpy only
@lru_cache(maxsize=None)
def cache_key() -> str:
    material = json.dumps({
        "manifests": [(MANIFESTS / d / "SHA256SUMS").read_text() for d in DATASETS],
        "torch": importlib.metadata.version("torch"), "torchvision": importlib.metadata.version("torchvision"),
        "oracle": Path(__file__).read_text(), "cases": Path(cases.__file__).read_text(),
    })
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def cache_dir(paths: DataPaths) -> Path:
    return paths.cache / cache_key()


def ensure(paths: DataPaths, *names: str) -> Path:
    """The cache folder, after making any of `names` that are missing from the verified data in
    `paths.data` (one subprocess for all of them)."""
    folder = cache_dir(paths)
    if all((folder / n).is_file() for n in names):
        return folder
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)   # it holds test labels: the owner only
    with open(folder / ".lock", "w") as lock:   # parallel batch jobs: one builds, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            call("prepare", folder=str(folder), names=missing, data_root=str(paths.data))
    return folder


SUMS = "SHA256SUMS.json"


def load(paths: DataPaths, name: str) -> np.ndarray | dict[str, np.ndarray]:
    """Cache file `name` (an array, or {key: array} for an .npz), made if missing and checked against its
    recorded SHA-256; a mismatch is rebuilt once, then refused."""
    folder = ensure(paths, name)
    for attempt in range(2):
        data, recorded = _read(folder / name), _recorded(folder).get(name)
        if data is not None and hashlib.sha256(data).hexdigest() == recorded:
            parsed = _npy_view(data) if name.endswith(".npy") else np.load(io.BytesIO(data), allow_pickle=False)
            arrays = {k: parsed[k] for k in parsed.files} if isinstance(parsed, np.lib.npyio.NpzFile) else {"": parsed}
            for array in arrays.values():
                array.setflags(write=False)   # shared by every grade in this process (the loaders cache)
            return arrays.get("", arrays)
        if attempt == 0:
            print(f"warning: the grader's cached {name} in {folder} does not match the checksum recorded when it "
                  f"was made (changed or damaged since); rebuilding it", file=sys.stderr)
            (folder / name).unlink(missing_ok=True)
            ensure(paths, name)
    raise OracleError(f"the grader's cached {name} in {folder} still does not match its recorded checksum after "
                      f"rebuilding it: delete {folder} and grade again")


def _npy_view(data: bytes) -> np.ndarray:
    """The array in .npy bytes, without copying them (np.load would copy ~200 MB on every grade)."""
    stream = io.BytesIO(data)
    major, _ = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(stream)
    if dtype.hasobject:
        raise OracleError("a cached array holds Python objects: refusing it")
    array = np.frombuffer(data, dtype=dtype, count=int(np.prod(shape)), offset=stream.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def _read(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _recorded(folder: Path) -> dict[str, str]:
    try:
        sums = json.loads(_read(folder / SUMS) or b"{}")
    except ValueError:
        return {}
    return sums if isinstance(sums, dict) else {}


MNIST_ARRAYS = ("train_x", "train_y", "test_x", "test_y")


def mnist_files() -> list[str]:
    return [f"mnist_{k}.npy" for k in MNIST_ARRAYS]


def bsds_files(split: str, factor: int) -> dict[str, str]:
    """{part: cache file}: the LR and HR crops, and for the test split the bicubic baseline."""
    parts = ("lr", "hr", "bicubic") if split == "test" else ("lr", "hr")
    return {part: f"bsds_{split}_x{factor}_{part}.npy" for part in parts}


def shuffle_file(fn: str) -> str:
    """torch's answers (and, for the module, input gradients) to the check cases of `fn`."""
    return f"shuffle_{fn}.npz"


def warm(paths: DataPaths, factors) -> Path:
    """Fill the cache with everything a grade reads (data for each SR factor, the shuffle answers)."""
    names = mnist_files() + [shuffle_file(fn) for fn in cases.CHECK_CASES]
    for r in sorted(set(factors)):
        names += [*bsds_files("train", r).values(), *bsds_files("test", r).values()]
    return ensure(paths, *names)


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
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, key, reader in zip(MNIST_FILES, MNIST_ARRAYS,
                                     (read_image_file, read_label_file) * 2):
            plain = Path(tmp) / name[:-3]   # torchvision reads uncompressed IDX files only
            with gzip.open(mnist_raw(root, name)) as src, open(plain, "wb") as dst:
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
    for path in bsds_images(root, split):
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
    torch_fn = F.pixel_unshuffle if fn == "pixel_unshuffle" else F.pixel_shuffle
    arrays = {}
    for k, (shape, r, transposed) in enumerate(cases.CHECK_CASES[fn]):
        x, _ = cases.make_case(shape, transposed, seed=k)
        arrays[f"out{k}"] = torch_fn(torch.from_numpy(x), r).numpy()
        if fn == "PixelShuffle":   # d/dx sum(out * w) = pixel_unshuffle(w)
            weight = cases.grad_weight(arrays[f"out{k}"].shape, k)
            arrays[f"grad{k}"] = F.pixel_unshuffle(torch.from_numpy(weight), r).numpy()
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
        fn = next(fn for fn in cases.CHECK_CASES if shuffle_file(fn) == name)
        answers = shuffle_expectations(fn)
        _write(folder / name, lambda f: np.savez(f, **answers))
        return
    raise OracleError(f"no recipe for cache file {name}")


WRITTEN: dict[str, str] = {}   # in the subprocess: file name -> SHA-256 of what it wrote


def save(path: Path, arr: np.ndarray) -> None:
    _write(path, lambda f: np.save(f, arr, allow_pickle=False))


def _write(path: Path, serialize) -> None:
    buffer = io.BytesIO()
    serialize(buffer)
    data = buffer.getvalue()
    WRITTEN[path.name] = hashlib.sha256(data).hexdigest()
    write_atomic(path, lambda f: f.write(data), mode=0o600)   # test labels, HR images: the owner only


def main(request: dict) -> dict:
    import torch
    if request["job"] == "environment":
        cuda = torch.cuda.is_available()
        return {"cuda": cuda, "gpu": torch.cuda.get_device_name(0) if cuda else None}
    folder = Path(request["folder"])
    for name in request["names"]:
        if not (folder / name).is_file():
            build(folder, name, Path(request["data_root"]))
    if WRITTEN:   # the caller holds the folder's lock (ensure), so no other writer merges at the same time
        write_atomic(folder / SUMS, json.dumps({**_recorded(folder), **WRITTEN}, indent=1), mode=0o600)
    return {"built": request["names"]}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
