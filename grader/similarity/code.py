"""Code similarity with copydetect: MOSS's winnowing fingerprints (Schleimer, Wilkerson & Aiken, SIGMOD 2003)
over pygments tokens, with identifiers, strings and comments normalised away, so renamed variables, new
comments and reordered functions still match. The starter stubs are boilerplate: code found there never counts.

Why copydetect (https://github.com/blingenf/copydetect): on PyPI, Python (pygments + numpy), gives the matched
character spans the page highlights, and takes a boilerplate list. MOSS itself is a web service that would send
student code to a third party; JPlag (Java) and Dolos (Node) would add a second runtime to a Python grader.
Its weak spot here: it hashes k-grams with Python's hash(), salted per process, so the same class scored
twice could rank pairs slightly differently; k-grams are hashed with blake2b instead while fingerprinting.
Only CodeFingerprint and compare_files are used, not its HTML report.
"""
from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.submission_files import SubmissionFileError, read_submission_file

FILES = ("model.py", "pixel_shuffle.py")
MAX_BYTES = 256 * 1024   # a larger upload is compared on its first 256 KB
INSTALL_HINT = "pip install 'cnn-practical-grader[similarity]' (installs copydetect)"


def available() -> bool:
    try:
        import copydetect  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class CodeMatch:
    score: float                                   # matched tokens / compared tokens, the larger direction
    per_file: dict[str, float] = field(default_factory=dict)
    spans: dict[str, tuple[list, list]] = field(default_factory=dict)   # file -> ([(start, end)], [(start, end)])


def _stable_kgrams(string: str, k: int) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(string[i:i + k].encode(), digest_size=8).digest(),
                                    "little", signed=True) for i in range(len(string) - k + 1)], dtype=np.int64)


@contextmanager
def _stable_hashing():
    from copydetect import utils
    salted, utils.hashed_kgrams = utils.hashed_kgrams, _stable_kgrams
    try:
        yield
    finally:
        utils.hashed_kgrams = salted


def read_sources(folder: Path) -> dict[str, str]:
    """The compared files of one submission folder (missing files are left out)."""
    texts = {}
    for name in FILES:
        try:
            texts[name] = read_submission_file(folder, name)[:MAX_BYTES].decode("utf-8", errors="replace")
        except (OSError, SubmissionFileError):
            continue
    return texts


class CodeComparer:
    """Fingerprints every submission once, then compares pairs."""

    def __init__(self, sources: dict[str, dict[str, str]], starter: Path, noise_t: int, guarantee_t: int):
        from copydetect import CodeFingerprint
        self.k, window = noise_t, guarantee_t - noise_t + 1   # copydetect's own k and window from the two
        with _stable_hashing():
            starter_hashes = set()
            for name, text in read_sources(starter).items():
                starter_hashes |= CodeFingerprint(name, self.k, window, fp=io.StringIO(text)).hashes
            boilerplate = np.array(sorted(starter_hashes), dtype=np.int64)
            self.prints = {student: {name: CodeFingerprint(name, self.k, window, boilerplate=boilerplate,
                                                           fp=io.StringIO(text)) for name, text in files.items()}
                           for student, files in sources.items()}

    def compare(self, a: str, b: str, spans: bool = False) -> CodeMatch:
        from copydetect import compare_files
        fa, fb = self.prints[a], self.prints[b]
        matched, compared, match = [0.0, 0.0], [0.0, 0.0], CodeMatch(0.0)
        for name in FILES:
            covered = (fa[name].token_coverage if name in fa else 0, fb[name].token_coverage if name in fb else 0)
            compared = [compared[0] + covered[0], compared[1] + covered[1]]
            if name not in fa or name not in fb or not covered[0] or not covered[1]:
                continue
            _, (sim_a, sim_b), (slices_a, slices_b) = compare_files(fa[name], fb[name])
            matched = [matched[0] + sim_a * covered[0], matched[1] + sim_b * covered[1]]
            match.per_file[name] = float(max(sim_a, sim_b))
            if spans and len(slices_a):
                match.spans[name] = (slices_a.T.tolist(), slices_b.T.tolist())
        match.score = float(max(m / c if c else 0.0 for m, c in zip(matched, compared)))
        return match
