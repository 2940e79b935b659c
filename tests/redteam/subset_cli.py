"""`python -m grader ...` on the red-team data slices: python tests/redteam/subset_cli.py grade CASE --out ..."""
import os
import sys

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]

import subset  # noqa: E402

subset.install()
from grader.__main__ import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
