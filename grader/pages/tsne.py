"""The t-SNE of a report's embedding sample, as the practical draws it: scikit-learn's TSNE with a fixed seed.

It runs when a page is written, not while grading (a grade's time and memory stay as they were): in a
subprocess of the trusted side, with one thread (the same numbers on every machine) and a time bound, and
its 2-D result is cached by the input's hash under the grader's cache folder, so a class's pages and a
re-rendered page do not pay twice. scikit-learn is the optional extra `pictures`; without it the page says
how to install it.

    python -m grader.pages.tsne IN.npy OUT.npy      (what the subprocess runs)
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 0
PERPLEXITY = 30.0
TIMEOUT_S = 60.0
INSTALL = 'pip install "cnn-practical-grader[pictures]"   (or: pip install scikit-learn)'
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class Layout:
    points: np.ndarray | None   # (N, 2), or None with `why`
    why: str = ""


def available() -> bool:
    return importlib.util.find_spec("sklearn") is not None


def fit(x: np.ndarray) -> np.ndarray:
    """The 2-D t-SNE of `x` (N, D) in this process (the subprocess's job)."""
    from sklearn.manifold import TSNE
    perplexity = min(PERPLEXITY, (len(x) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=SEED,
                n_jobs=1).fit_transform(x.astype(np.float32)).astype(np.float32)


def cache_path(x: np.ndarray) -> Path:
    from grader.paths import DataPaths
    key = hashlib.sha256(f"{x.shape}|{SEED}|{PERPLEXITY}|".encode() + np.ascontiguousarray(x, "<f4").tobytes())
    return DataPaths.from_environment().cache / "tsne" / f"{key.hexdigest()[:32]}.npy"


def layout(x: np.ndarray, timeout_s: float = TIMEOUT_S) -> Layout:
    """The 2-D points for `x`, cached; or None and a sentence saying why not."""
    if len(x) < 5:
        return Layout(None, f"too few points ({len(x)}) for a t-SNE")
    if not available():
        return Layout(None, f"scikit-learn is not installed; install it to see this picture: {INSTALL}")
    cached = cache_path(x)
    try:
        points = np.load(cached, allow_pickle=False)
        if points.shape == (len(x), 2):
            return Layout(points)
    except (OSError, ValueError):
        pass
    with tempfile.TemporaryDirectory(prefix="grader-tsne-") as tmp:
        source, target = Path(tmp) / "in.npy", Path(tmp) / "out.npy"
        np.save(source, x.astype(np.float32), allow_pickle=False)
        try:
            done = subprocess.run([sys.executable, "-m", "grader.pages.tsne", str(source), str(target)],
                                  env={**os.environ, **ONE_THREAD}, capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return Layout(None, f"the t-SNE took longer than {timeout_s:g} s and was stopped")
        if done.returncode != 0:
            return Layout(None, "the t-SNE failed: " + (done.stderr.strip().splitlines() or ["no message"])[-1])
        points = np.load(target, allow_pickle=False)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(partial, points, allow_pickle=False)
        os.replace(partial, cached)
    except OSError:
        pass   # a read-only cache only costs the next page another run
    return Layout(points)


if __name__ == "__main__":
    np.save(sys.argv[2], fit(np.load(sys.argv[1], allow_pickle=False)), allow_pickle=False)
