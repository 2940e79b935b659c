"""Grading a notebook: the two graded files extracted into a folder, graded as any folder is, and the report
pointed back into the notebook.

A submission is a notebook when it is an `.ipynb` file, or a folder holding one `.ipynb` and neither graded
`.py` file (with the `.py` files there, they are what is graded, as before notebooks were accepted).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from ..checks.evidence import MODEL_ENTRIES
from ..errors import ConfigError
from ..items import SPECS, SUBMISSION_FILES
from ..result import Report
from .extract import ALL_GRADED, Extraction, extract
from .lines import translate, translate_flag
from .read import NotebookError, read_notebook

NOTE_PREFIX = "From reading your notebook: "


def notebook_of(path: Path) -> Path | None:
    """The notebook that `path` submits, or None when it is a folder of `.py` files."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".ipynb":
        return path
    if not path.is_dir() or any((path / name).is_file() for name in SUBMISSION_FILES):
        return None
    notebooks = sorted(p for p in path.iterdir() if p.suffix.lower() == ".ipynb" and p.is_file()
                       and not p.name.startswith("."))
    if len(notebooks) > 1:
        raise ConfigError(f"{path} holds {len(notebooks)} notebooks ({', '.join(p.name for p in notebooks)}): "
                          f"pass the one to grade")
    return notebooks[0] if notebooks else None


def prepare(notebook: Path, folder: Path) -> Extraction:
    """Extract the graded files of `notebook` into `folder`; a notebook that cannot be read writes none."""
    try:
        read = read_notebook(notebook)
    except NotebookError as exc:
        return Extraction(Path(notebook).name, {}, fatal=str(exc), sha256=exc.sha256, size=exc.size)
    extraction = extract(read)
    extraction.sha256, extraction.size = read.sha256, read.size
    for name, extracted in extraction.files.items():
        (Path(folder) / name).write_text(extracted.source)
    return extraction


def graded_name(item_id: str) -> str:
    """The notebook definition an item grades: pixel_shuffle, PixelShuffle, ... or CNN / Net."""
    spec = SPECS[item_id]
    return spec.evidence if spec.evidence in ALL_GRADED else MODEL_ENTRIES[spec.group]


def describe_notebook(notebook: Path, extraction: Extraction) -> dict:
    """The report's record of the notebook: the bytes that were read (none when it could not be read)."""
    return {"name": Path(notebook).name, "sha256": extraction.sha256, "bytes": extraction.size,
            "cells": {name: list(f.cells) for name, f in extraction.files.items()},
            "notes": ([extraction.fatal] if extraction.fatal else []) + extraction.notes}


def point_into(report: Report, extraction: Extraction, notebook: Path, described: dict) -> None:
    """Rewrite `report` to speak of the notebook (idempotent: the orchestrator calls it before each save)."""
    for item in report.tests:
        if extraction.fatal:
            if item.graded:
                item.output = extraction.fatal
            continue
        item.output = translate(item.output, extraction)
        for problem in extraction.about(graded_name(item.id)):
            if problem not in item.output:
                item.output = f"{item.output}\n{NOTE_PREFIX}{problem}".strip()
    report.flags[:] = [translate_flag(flag, extraction) for flag in report.flags]
    report.submission["path"] = str(Path(notebook).resolve())
    report.submission["notebook"] = described


def grade_submission(submission: str | Path, config, data, grade: Callable[..., Report] | None = None,
                     **options) -> Report:
    """orchestrator.grade for a folder of `.py` files or a notebook (see notebook_of)."""
    if grade is None:
        from ..orchestrator import grade
    notebook = notebook_of(Path(submission))
    if notebook is None:
        return grade(submission, config, data, **options)
    with tempfile.TemporaryDirectory(prefix="notebook-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        extraction = prepare(notebook, folder)
        described = describe_notebook(notebook, extraction)
        return grade(folder, config, data, **options,
                     rewrite=lambda report: point_into(report, extraction, notebook, described))
