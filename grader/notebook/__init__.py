"""Notebooks: a `.ipynb` graded as a submission (submission.py: read.py reads it, extract.py keeps the graded
definitions and what they need, lines.py points the report's messages back into its cells)."""
