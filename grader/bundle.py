"""What the LMS packages hold, taken from this checkout: the grader's code, the rubric, the data (or only its
manifests), and dependency pins for the Python of the grading image. Written as a zip or a folder.

The grading images (Gradescope's default Ubuntu 22.04, the PrairieLearn Dockerfile, the GitHub workflow) all
run TARGET_PYTHON. Pins are the versions installed here (the rubric was calibrated with them) wherever they
install on that Python; numpy and pillow dropped 3.10 in later releases, so those fall back to the newest
release that supports it (NEWEST_FOR_TARGET, checked end to end by tests/test_gradescope_py310.py). A torch
too new for the target is an error: training numerics must match the calibration.
"""
from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

from packaging.specifiers import SpecifierSet

from .config import REPO_ROOT

TARGET_PYTHON = "3.10"          # Ubuntu 22.04's python3 (3.10.12): Gradescope's default base image
TARGET_PYTHON_RELEASE = "3.10.12"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"   # CPU wheels: no LMS image has a GPU
TORCH_PACKAGES = ("torch", "torchvision")
OTHER_PACKAGES = ("einops", "numpy", "pillow", "pyyaml", "nbformat")   # nbformat: notebook submissions
NEWEST_FOR_TARGET = {"numpy": "2.2.6", "pillow": "12.3.0"}   # their last releases installable on Python 3.10
ZIP_DATE = (2020, 1, 1, 0, 0, 0)   # fixed timestamps: the same inputs give the same zip
EXECUTABLE = ("run_autograder", "setup.sh", "run.sh", "install.sh")
# Never in any package: the instructor's tools (packaging needs this checkout, calibration needs reference/).
INSTRUCTOR_ONLY = ("grader/package.py", "grader/bundle.py", "grader/platforms.py", "grader/handout.py",
                   "grader/calibrate.py")


class PackageError(ValueError):
    """The package cannot be built as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Pins:
    torch: tuple[str, ...]      # from TORCH_INDEX
    other: tuple[str, ...]      # from PyPI
    notes: tuple[str, ...]      # where the image gets another version than this machine

    def files(self) -> dict[str, bytes]:
        return {"requirements-torch.txt": ("\n".join(self.torch) + "\n").encode(),
                "requirements.txt": ("\n".join(self.other) + "\n").encode()}


def pins(target: str = TARGET_PYTHON_RELEASE) -> Pins:
    """Exact versions for Python `target`, from the packages installed here."""
    lines, notes = {}, []
    for name in TORCH_PACKAGES + OTHER_PACKAGES:
        try:
            meta = metadata(name)
        except PackageNotFoundError:
            raise PackageError(f"{name} is not installed here; install the grader's dependencies "
                               f"(pip install -e .) before packaging") from None
        version = meta["Version"].split("+")[0]   # drop local tags such as +cpu / +cu130
        requires = meta["Requires-Python"] or ""
        if requires and not SpecifierSet(requires).contains(target):
            if name not in NEWEST_FOR_TARGET:
                raise PackageError(
                    f"{name} {version} needs Python {requires}, but the grading images run Python {target}; "
                    f"package from an environment whose {name} supports Python {TARGET_PYTHON}")
            notes.append(f"{name} {version} needs Python {requires}: the image gets {name} "
                         f"{NEWEST_FOR_TARGET[name]}, its newest release for Python {TARGET_PYTHON}")
            version = NEWEST_FOR_TARGET[name]
        lines[name] = f"{name}=={version}"
    return Pins(tuple(lines[n] for n in TORCH_PACKAGES), tuple(lines[n] for n in OTHER_PACKAGES), tuple(notes))


def grader_files(handout: bool = False) -> dict[str, Path]:
    """grader/ relative to the bundle root, without caches or instructor-only parts. A `handout` keeps the
    pytest plugin (conftest.py, test_submission.py) that `pytest grader` needs and the templates package
    pyproject.toml lists; an LMS image needs neither."""
    out = {}
    for path in sorted((REPO_ROOT / "grader").rglob("*")):
        rel = path.relative_to(REPO_ROOT).as_posix()
        if (not path.is_file() or "__pycache__" in rel or path.suffix in (".pyc", ".pyo")
                or rel.startswith(INSTRUCTOR_ONLY)):
            continue
        if not handout and (path.name == "conftest.py" or path.name.startswith("test_")
                            or rel.startswith("grader/templates/")):
            continue
        out[rel] = path
    return out


def data_files(include_data: bool) -> dict[str, Path]:
    """datasets/<name>/SHA256SUMS always; with include_data every file they list, verified, from the data dir."""
    from .data import verify
    from .paths import DATASETS, MANIFESTS, DataPaths, manifest
    out = {f"datasets/{d}/SHA256SUMS": MANIFESTS / d / "SHA256SUMS" for d in DATASETS}
    if include_data:
        root = DataPaths.from_environment().data
        verify(root)  # refuse to ship missing or corrupt data
        for d in DATASETS:
            for rel in manifest(d):
                out[f"datasets/{d}/{rel}"] = root / d / rel
    return out


def _mode(name: str) -> int:
    return 0o755 if Path(name).name in EXECUTABLE else 0o644


def _content(value: bytes | str | Path) -> bytes:
    if isinstance(value, Path):
        return value.read_bytes()
    return value.encode() if isinstance(value, str) else value


def write_zip(files: dict[str, bytes | str | Path], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (_mode(name) | stat.S_IFREG) << 16
            zf.writestr(info, _content(files[name]))
    os.replace(tmp, out)
    return out


def write_tree(files: dict[str, bytes | str | Path], out: Path, marker: str) -> Path:
    """Write `files` under the folder `out`, replacing a previous package (recognised by `marker`) but
    refusing to overwrite any other non-empty folder."""
    if out.exists() and any(out.iterdir()) and not (out / marker).is_file():
        raise PackageError(f"{out}: exists and is not a previous package; pick an empty or new folder")
    if out.exists():
        shutil.rmtree(out)
    for name, content in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_content(content))
        target.chmod(_mode(name))
    return out
