"""`python -m grader ...` on the red-team data slices: python tests/redteam/subset_cli.py grade CASE --out ...

A process of its own, so swapping the command line's Datasets for SubsetDatasets touches nothing else.
"""
import os
import sys

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]

import grader.data  # noqa: E402
import subset  # noqa: E402

grader.data.Datasets = subset.SubsetDatasets
from grader.__main__ import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
