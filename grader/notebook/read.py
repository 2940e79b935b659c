"""Reading a submitted notebook: its code cells, once, with the outputs dropped before anything else.

A notebook is JSON (nbformat); students' notebooks carry outputs of tens or hundreds of MB (plots, long
training logs) that the grader never needs. The file is parsed once, each cell's outputs dropped as soon as
that cell is parsed, before nbformat validates or converts it: only the source text stays in memory. Every way a notebook can be
unusable becomes a NotebookError worded for the student.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..submission_files import SubmissionFileError, read_submission_file

OLDEST_READABLE = 3   # nbformat can upgrade version 3 (IPython 2, 2014) to 4; older has no converter


class NotebookError(ValueError):
    sha256, size = "", 0   # of the bytes, when they could be read
    """The notebook cannot be read at all; the message is for the student."""


@dataclass(frozen=True)
class CodeCell:
    number: int      # 1-based, counting every cell (text cells too) from the top, as the student sees them
    source: str


@dataclass(frozen=True)
class Notebook:
    name: str
    cells: tuple[CodeCell, ...]
    notes: tuple[str, ...] = ()    # read, but something the student should know (an upgraded old format)
    sha256: str = ""               # of the bytes read (the report's record of the submission)
    size: int = 0


MAX_NOTEBOOK_BYTES = 512 * 2**20   # outputs (plots) make notebooks large; only the code cells are kept


def read_notebook(path: Path) -> Notebook:
    path = Path(path)
    try:   # the one safe reader of submitted files: a link or a FIFO is refused, never followed
        raw = read_submission_file(path.parent, path.name, MAX_NOTEBOOK_BYTES)
    except (OSError, SubmissionFileError) as exc:
        raise NotebookError(str(exc) if isinstance(exc, SubmissionFileError) else
                            f"{path.name} cannot be read ({exc.strerror})") from None
    digest, size = hashlib.sha256(raw).hexdigest(), len(raw)
    try:
        cells, notes = _parse(path, raw)
    except NotebookError as exc:
        exc.sha256, exc.size = digest, size   # the report still records what was handed in
        raise
    return Notebook(path.name, cells, tuple(notes), digest, size)


def _parse(path: Path, raw: bytes) -> tuple[tuple[CodeCell, ...], list[str]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise NotebookError(f"{path.name} is not UTF-8 text (byte {exc.start:,}, line {line} of the file): a "
                            f"notebook is always saved as UTF-8. Open it in Jupyter or Colab and save it again "
                            f"(File > Download > .ipynb in Colab)") from None
    del raw
    try:
        data = json.loads(text, object_pairs_hook=_without_outputs)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path.name} is not a notebook: it is not valid JSON ({exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno} of the file). Submit the .ipynb that Jupyter or Colab saved "
                            f"(File > Download > .ipynb), not a copy edited by hand or an export") from None
    del text
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise NotebookError(f"{path.name} is JSON but not a notebook (it has no `nbformat` version): submit the "
                            f".ipynb that Jupyter or Colab saved")
    version = data["nbformat"]
    notes = []
    if version < OLDEST_READABLE:
        raise NotebookError(f"{path.name} is in nbformat {version}, older than any Jupyter can convert: open it in "
                            f"a current Jupyter and save it again")
    try:
        nb = nbformat.from_dict(data)
        if version < 4:
            nb = nbformat.convert(nb, 4)
            notes.append(f"{path.name} is in the old nbformat {version} (Jupyter before 2015); the grader "
                         f"upgraded it to version 4 to read it. Saving it again in a current Jupyter avoids this note.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # nbformat's notices (cell ids missing) are for Jupyter, not students
            nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookError(f"{path.name} is not a valid notebook ({exc.message}): open it in Jupyter or Colab "
                            f"and save it again") from None
    except Exception as exc:   # nbformat's converters raise plain KeyError / TypeError on mangled files
        raise NotebookError(f"{path.name} is not a valid notebook ({type(exc).__name__}: {exc}): open it in "
                            f"Jupyter or Colab and save it again") from None
    cells = tuple(CodeCell(i, _text(cell.source)) for i, cell in enumerate(nb.cells, start=1)
                  if cell.cell_type == "code")
    if not cells:
        raise NotebookError(f"{path.name} has no code cells ({len(nb.cells)} text cells): the grader reads your "
                            f"code from the notebook's code cells")
    return cells, notes


def _without_outputs(pairs: list[tuple[str, object]]) -> dict:
    """Each JSON object as it is parsed, its outputs emptied and attachments dropped: a cell's outputs are
    freed as soon as that cell is parsed, so the largest part of a notebook is never held all at once."""
    return {key: [] if key == "outputs" else value for key, value in pairs if key != "attachments"}


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)
