"""Find, verify, download and load the practical's data (trusted side only).

Where the data is comes from a `DataPaths` (grader/paths.py, which also describes the layout), resolved
once by the entry point; the loaders are cached per DataPaths, so a test or a batch using another folder
never sees this one's arrays.

SR convention (as in pytorch/examples super_resolution): Y channel of PIL's YCbCr, centre crop
`256 - 256 % r`, HR = the crop, LR = torchvision `Resize(crop // r)` of it (bilinear, antialiased), both
scaled to [0, 1]. One crop per image.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import oracle
from .errors import DataError
from .paths import DATASETS, DataPaths, bsds_images, manifest

BSDS_URL = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/bsds/BSDS300-images.tgz"
FIX = "python -m grader data download"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(root: Path, datasets=DATASETS, checksums: bool = True) -> None:
    """Raise DataError listing every missing or corrupt file, where we looked, and both fixes."""
    missing, corrupt, expected = [], [], {}
    for dataset in datasets:
        for rel, digest in manifest(dataset).items():
            path = root / dataset / rel
            expected[path.parent] = expected.get(path.parent, 0) + 1
            if not path.is_file():
                missing.append(path)
            elif checksums and _cached_digest(str(path), path.stat().st_mtime_ns, path.stat().st_size) != digest:
                corrupt.append(path)
    if missing or corrupt:
        raise DataError(describe_problems(root, missing, corrupt, expected))


def describe_problems(root: Path, missing: list[Path], corrupt: list[Path], expected: dict[Path, int]) -> str:
    """Every problem file, relative to root; a big folder missing all its files is one line, not a hundred."""
    lines, by_folder = [], {}
    for path in missing:
        by_folder.setdefault(path.parent, []).append(path)
    for folder, paths in by_folder.items():
        if len(paths) == expected[folder] > 10:
            lines.append(f"  missing: {folder.relative_to(root)}/ (all {len(paths)} files)")
        else:
            lines += [f"  missing: {p.relative_to(root)}" for p in paths]
    lines += [f"  wrong checksum: {p.relative_to(root)}" for p in corrupt]
    counts = " and ".join(part for part in (f"{len(missing)} missing" if missing else "",
                                            f"{len(corrupt)} with a wrong checksum" if corrupt else "") if part)
    return (f"data files {counts} in {root} (the data folder: GRADER_DATA_DIR, else datasets/ in the repo):\n"
            + "\n".join(lines) + "\n"
            f"Fix it either way:\n  1. `{FIX}` fetches and checks them (needs internet), or\n"
            f"  2. set GRADER_DATA_DIR to a folder holding mnist/raw/ and bsds300/images/ (a copy from your "
            f"course), and keep it set for every grader command.")


@lru_cache(maxsize=None)
def _cached_digest(path: str, mtime_ns: int, size: int) -> str:
    return _sha256(Path(path))


@dataclass(frozen=True)
class Mnist:
    train_x: np.ndarray   # (60000, 28, 28) uint8
    train_y: np.ndarray   # (60000,) int64
    test_x: np.ndarray    # (10000, 28, 28) uint8
    test_y: np.ndarray    # (10000,) int64


@lru_cache(maxsize=2)
def load_mnist(paths: DataPaths) -> Mnist:
    """Verified MNIST, decoded once by torchvision (grader/oracle.py) and then read from the cache."""
    verify(paths.data, ("mnist",))
    names = oracle.mnist_files()
    oracle.ensure(paths, *names)   # one subprocess for all four, if any is missing
    return Mnist(*(oracle.load(paths, n) for n in names))


@dataclass(frozen=True)
class SRSplit:
    lr: np.ndarray   # (N, 1, c/r, c/r) float32 in [0, 1]
    hr: np.ndarray   # (N, 1, c, c) float32 in [0, 1]
    names: tuple[str, ...]
    bicubic: np.ndarray | None = None   # test split: bicubic upsampling of lr (the no-credit baseline)


@lru_cache(maxsize=4)
def load_bsds(paths: DataPaths, split: str, upscale_factor: int) -> SRSplit:
    """Verified BSDS300 `split` at scale `upscale_factor`, decoded once (grader/oracle.py), then cached."""
    verify(paths.data, ("bsds300",))
    files = oracle.bsds_files(split, upscale_factor)
    oracle.ensure(paths, *files.values())
    arrays = {part: oracle.load(paths, file) for part, file in files.items()}
    names = tuple(p.stem for p in bsds_images(paths.data, split))
    return SRSplit(names=names, **arrays)


@dataclass(frozen=True)
class Datasets:
    """The graded data at `paths`, verified and decoded once; what a grade reads its data from.

    Tests grade on slices of it by passing a subclass (tests/redteam/subset.py), never by patching."""
    paths: DataPaths

    def mnist(self) -> Mnist:
        return load_mnist(self.paths)

    def bsds(self, split: str, upscale_factor: int) -> SRSplit:
        return load_bsds(self.paths, split, upscale_factor)


def download(root: Path, mnist_mirrors: tuple[str, ...] | None = None, bsds_url: str = BSDS_URL) -> Path:
    """Fetch MNIST and BSDS300 into `root` with torchvision's downloader (its mirrors, md5 checks and
    progress bar), then verify every file against the committed sha256 manifests. Files already present
    and correct are kept; a failed mirror is reported and the next one tried."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_and_extract_archive, download_url
    raw = root / "mnist" / "raw"
    want = manifest("mnist")
    for name, md5 in MNIST.resources:
        target = raw / name
        if target.is_file() and _sha256(target) == want[f"raw/{name}"]:
            continue
        errors = []
        for mirror in mnist_mirrors or MNIST.mirrors:
            try:
                download_url(mirror + name, str(raw), filename=name, md5=md5)
                break
            except (OSError, RuntimeError) as exc:   # URLError is an OSError; torchvision raises RuntimeError on md5
                errors.append(f"{mirror}{name}: {exc}")
                print(f"  {errors[-1]} (trying the next mirror)")
        else:
            raise DataError(f"could not download {name} from any mirror:\n  " + "\n  ".join(errors) +
                            f"\nCopy the file into {raw} by hand, or set GRADER_DATA_DIR to a folder that has it.")
    if not all((root / "bsds300" / rel).is_file() for rel in manifest("bsds300")):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                download_and_extract_archive(bsds_url, tmp, filename="BSDS300-images.tgz")
            except (OSError, RuntimeError) as exc:
                raise DataError(f"could not download BSDS300 from {bsds_url}: {exc}\nCopy bsds300/images/ into "
                                f"{root} by hand, or set GRADER_DATA_DIR to a folder that has it.") from None
            for split in ("train", "test"):
                images = root / "bsds300" / "images" / split
                images.mkdir(parents=True, exist_ok=True)
                for jpg in (Path(tmp) / "BSDS300" / "images" / split).glob("*.jpg"):
                    shutil.copy2(jpg, images / jpg.name)
    verify(root)
    return root
