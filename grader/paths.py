"""Where the data and the decode cache are: resolved once, to absolute paths, where the grader starts.

Entry points (the command line, `pytest grader`, batch, calibrate) call `DataPaths.from_environment()` and
pass the object down; nothing deeper reads the environment. A relative GRADER_DATA_DIR is resolved
against the folder the command was started in, once, so later processes started elsewhere (batch
graders, LMS scripts) see the same folder.

Layout under the data root (checksums committed in datasets/<name>/SHA256SUMS):
    mnist/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    bsds300/images/{train,test}/*.jpg
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = REPO_ROOT / "datasets"
DATASETS = ("mnist", "bsds300")
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class DataPaths:
    data: Path    # holds mnist/raw/ and bsds300/images/
    cache: Path   # the decode cache's base folder (grader/oracle.py keeps one subfolder per cache key)

    @classmethod
    def from_environment(cls, data: str | os.PathLike | None = None,
                         cache: str | os.PathLike | None = None) -> "DataPaths":
        """Explicit arguments, else GRADER_DATA_DIR / GRADER_CACHE_DIR, else datasets/ and ~/.cache/grader."""
        data = data or os.environ.get("GRADER_DATA_DIR") or REPO_ROOT / "datasets"
        cache = cache or os.environ.get("GRADER_CACHE_DIR") or \
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grader"
        return cls(Path(data).expanduser().resolve(), Path(cache).expanduser().resolve())

    def environment(self) -> dict[str, str]:
        """The same locations for a child process (absolute, so its working folder does not matter)."""
        return {"GRADER_DATA_DIR": str(self.data), "GRADER_CACHE_DIR": str(self.cache)}



def manifest(dataset: str) -> dict[str, str]:
    """relative path -> sha256, from the committed datasets/<dataset>/SHA256SUMS."""
    lines = (MANIFESTS / dataset / "SHA256SUMS").read_text().split("\n")
    return {name.strip().lstrip("*"): digest for digest, name in (l.split(None, 1) for l in lines if l.strip())}


def mnist_raw(data_root: Path, name: str) -> Path:
    return data_root / "mnist" / "raw" / name


def bsds_images(data_root: Path, split: str) -> list[Path]:
    """The split's images in a fixed (sorted) order: the order of every decoded array."""
    return sorted((data_root / "bsds300" / "images" / split).glob("*.jpg"))
