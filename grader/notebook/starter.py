"""The handout's starter notebook, practical.ipynb: the exercises of student/*.py as stub cells, each
followed by a check cell, with the instructions to run it locally or in Colab. Built from the stubs at
packaging time, so it always says what student/ says."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..config import REPO_ROOT

STUDENT = REPO_ROOT / "student"
NAME = "practical.ipynb"

INSTRUCTIONS = """# Intro to CNNs in PyTorch: the graded exercises

Write each exercise in its cell, run it, then run the check cell under it: it grades your code with the
official grader and shows the result here. `check()` at the end grades everything.

**Locally** (in the handout folder): `pip install -e .`, then `python -m grader data download` once, then
open this notebook with Jupyter (`jupyter lab practical.ipynb`). Save (Ctrl+S) before a check: it grades the
saved notebook.

**In Colab**: upload the handout folder to your Drive, then run the setup cell below with its two lines
uncommented (install the grader, download the data). With a GPU runtime (Runtime > Change runtime type)
the checks use the official `full` profile; without one, a `quick` estimate on the CPU.

Submit this notebook (`.ipynb`) as it is: the grader keeps only the definitions it grades and what they use;
your plots and training cells are never run."""

SETUP = """# In Colab, uncomment (your handout folder on Drive):
# !pip install -q -e /content/drive/MyDrive/cnn-practical-handout
# !python -m grader data download
import torch
from torch import nn
from einops import rearrange

from grader.notebook import check"""

PARTS = (  # (title, file, graded names in one cell, group checked after it)
    ("Part 3: pixel shuffle with einops", "pixel_shuffle.py", ("pixel_shuffle", "pixel_unshuffle", "PixelShuffle"),
     "shuffle"),
    ("Part 1: the MNIST CNN", "model.py", ("CNN",), "cnn"),
    ("Part 2: super-resolution with ESPCN", "model.py", ("Net",), "sr"),
)


def definitions(file: str, names: tuple[str, ...]) -> str:
    """The stub definitions of `names` in student/`file`, as written there (docstrings and comments kept)."""
    source = (STUDENT / file).read_text()
    tree = ast.parse(source)
    lines = source.split("\n")
    parts = []
    for node in tree.body:
        if getattr(node, "name", None) in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            parts.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n\n".join(parts) + "\n"


def starter_notebook() -> nbformat.NotebookNode:
    cells = [new_markdown_cell(INSTRUCTIONS), new_code_cell(SETUP)]
    for title, file, names, group in PARTS:
        intro = ast.get_docstring(ast.parse((STUDENT / file).read_text())) or ""
        cells.append(new_markdown_cell(f"## {title}\n\n{intro}" if file == "pixel_shuffle.py" else f"## {title}"))
        cells.append(new_code_cell(definitions(file, names)))
        cells.append(new_code_cell(f'check("{group}")'))
    cells.append(new_markdown_cell("## Everything, as the official grade"))
    cells.append(new_code_cell("check()"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def starter_text() -> str:
    return nbformat.writes(starter_notebook())


def write_starter(path: Path) -> Path:
    Path(path).write_text(starter_text())
    return Path(path)
