"""What produced a grade: a hash of the grader's own code, so a fix to the grader is a different grader.

Reports record it, and `batch` keys its resume manifest on it (with the rubric's hash), so a rerun after
a grader fix or a rubric change regrades instead of keeping grades the old code gave. Code that only
schedules, renders or ships grades (executors, pages, LMS packaging...) is left out: changing it must not
regrade a class, and its outputs are rebuilt from the reports on every batch.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SOURCE_SUFFIXES = {".py", ".json", ".sh", ".yml", ".yaml", ".html", ".txt", ".md", ""}
NOT_GRADING = {"executors", "pages", "similarity", "templates", "batch.py", "batch_jobs.py", "batch_local.py",
               "bundle.py", "calibrate.py", "finalize.py", "formats.py", "gradebook.py", "handout.py", "layouts.py",
               "package.py", "lms.py", "platforms.py", "progress.py", "summary.py", "__main__.py"}


@lru_cache(maxsize=1)
def grader_code_sha256() -> str:
    """sha256 over every source file of the grader package (path and content), in a fixed order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES
                       and "__pycache__" not in p.parts and p.relative_to(PACKAGE).parts[0] not in NOT_GRADING):
        digest.update(f"{path.relative_to(PACKAGE).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
