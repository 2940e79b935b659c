"""Notebooks: a `.ipynb` graded as a submission (submission.py: read.py reads it, extract.py keeps the graded
definitions and what they need, lines.py points the report's messages back into its cells), and `check()`,
the grade of the notebook a student is working in, shown inside it (check.py)."""
from .check import check

__all__ = ["check"]
