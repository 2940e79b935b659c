"""Test-only: with GRADER_TEST_DATA_SUBSET=1, every Python process started with this folder on PYTHONPATH
grades on the red-team data slices (tests/redteam/subset.py, as subset_cli.py does), so the cluster tests'
batches, which run `python -m grader grade` on Slurm nodes and in Ray workers exactly as in production,
stay cheap. Workers run `python -I` and never see this; the trusted side (which loads the data) does."""
import os
import sys

if os.environ.get("GRADER_TEST_DATA_SUBSET") == "1":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "redteam"))
    import grader.data  # noqa: E402
    import subset  # noqa: E402

    grader.data.Datasets = subset.SubsetDatasets
    sys.path.pop(0)
