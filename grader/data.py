"""Find, verify, download and load the practical's data (trusted side only).

Layout under GRADER_DATA_DIR (default: datasets/ in the repo):
    mnist/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz     (the four original IDX files)
    bsds300/images/{train,test}/*.jpg                              (200 + 100 BSDS300 images)
Checksum manifests are committed as datasets/mnist/SHA256SUMS and datasets/bsds300/SHA256SUMS.

SR convention (as in pytorch/examples super_resolution): Y channel of PIL's YCbCr, centre crop
`256 - 256 % r`, HR = the crop, LR = torchvision `Resize(crop // r)` of it (bilinear, antialiased), both
scaled to [0, 1]. One crop per image.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import REPO_ROOT

MANIFESTS = REPO_ROOT / "datasets"
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
BSDS_URL = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/BSDS300-images.tgz"
FIX = "python -m grader data download"


class DataError(RuntimeError):
    """Missing or corrupt data; the message lists what, where, and the command that fixes it."""


def data_dir() -> Path:
    return Path(os.environ.get("GRADER_DATA_DIR") or REPO_ROOT / "datasets").resolve()


def manifest(dataset: str) -> dict[str, str]:
    """relative path -> sha256, from the committed datasets/<dataset>/SHA256SUMS."""
    lines = (MANIFESTS / dataset / "SHA256SUMS").read_text().split("\n")
    return {name.strip().lstrip("*"): digest for digest, name in (l.split(None, 1) for l in lines if l.strip())}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(datasets=("mnist", "bsds300"), root: Path | None = None, checksums: bool = True) -> None:
    """Raise DataError naming every missing or corrupt file, where we looked, and the fix."""
    root = root or data_dir()
    missing, corrupt = [], []
    for dataset in datasets:
        for rel, digest in manifest(dataset).items():
            path = root / dataset / rel
            if not path.is_file():
                missing.append(f"{dataset}/{rel}")
            elif checksums and _cached_digest(str(path), path.stat().st_mtime_ns, path.stat().st_size) != digest:
                corrupt.append(f"{dataset}/{rel}")
    if missing or corrupt:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''})")
        if corrupt:
            parts.append(f"{len(corrupt)} with a wrong checksum ({', '.join(corrupt[:4])})")
        raise DataError(f"data files {' and '.join(parts)} under {root} (set by GRADER_DATA_DIR). "
                        f"Fix: run `{FIX}` (needs internet), or point GRADER_DATA_DIR at a folder holding "
                        f"mnist/raw/ and bsds300/images/.")


@lru_cache(maxsize=None)
def _cached_digest(path: str, mtime_ns: int, size: int) -> str:
    return _sha256(Path(path))


@dataclass(frozen=True)
class Mnist:
    train_x: np.ndarray   # (60000, 28, 28) uint8
    train_y: np.ndarray   # (60000,) int64
    test_x: np.ndarray    # (10000, 28, 28) uint8
    test_y: np.ndarray    # (10000,) int64


@lru_cache(maxsize=1)
def load_mnist(root: Path | None = None) -> Mnist:
    """Verified MNIST, decoded once by torchvision (grader/oracle.py) and then read from the cache."""
    from . import oracle
    root = root or data_dir()
    verify(("mnist",), root)
    names = oracle.mnist_files()
    folder = oracle.ensure(*names, data_root=root)
    return Mnist(*(np.load(folder / n, mmap_mode="r", allow_pickle=False) for n in names))


@dataclass(frozen=True)
class SRSplit:
    lr: np.ndarray   # (N, 1, c/r, c/r) float32 in [0, 1]
    hr: np.ndarray   # (N, 1, c, c) float32 in [0, 1]
    names: tuple[str, ...]
    bicubic: np.ndarray | None = None   # test split: bicubic upsampling of lr (the no-credit baseline)


@lru_cache(maxsize=4)
def load_bsds(split: str, upscale_factor: int, root: Path | None = None) -> SRSplit:
    """Verified BSDS300 `split` at scale `upscale_factor`, decoded once (grader/oracle.py), then cached."""
    from . import oracle
    root = root or data_dir()
    verify(("bsds300",), root)
    files = oracle.bsds_files(split, upscale_factor)
    folder = oracle.ensure(*files.values(), data_root=root)
    arrays = {part: np.load(folder / file, mmap_mode="r", allow_pickle=False) for part, file in files.items()}
    names = tuple(p.stem for p in sorted((root / "bsds300" / "images" / split).glob("*.jpg")))
    return SRSplit(names=names, **arrays)


def download(root: Path | None = None) -> Path:
    """Fetch MNIST and BSDS300 into `root` and verify them against the committed manifests."""
    import tarfile
    root = root or data_dir()
    raw = root / "mnist" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    want = manifest("mnist")
    for name in MNIST_FILES:
        target = raw / name
        if target.is_file() and _sha256(target) == want[f"raw/{name}"]:
            continue
        for mirror in MNIST_MIRRORS:
            try:
                _fetch(mirror + name, target)
                break
            except OSError as exc:
                print(f"  {mirror + name}: {exc}")
        else:
            raise DataError(f"could not download {name} from any mirror; copy it into {raw} by hand")
    images = root / "bsds300" / "images"
    if not all((root / "bsds300" / rel).is_file() for rel in manifest("bsds300")):
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "BSDS300-images.tgz"
            _fetch(BSDS_URL, archive)
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            for split in ("train", "test"):
                (images / split).mkdir(parents=True, exist_ok=True)
                for jpg in (Path(tmp) / "BSDS300" / "images" / split).glob("*.jpg"):
                    shutil.copy2(jpg, images / split / jpg.name)
    verify(root=root)
    return root


def _fetch(url: str, target: Path) -> None:
    print(f"downloading {url}")
    tmp = target.with_suffix(target.suffix + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    os.replace(tmp, target)
