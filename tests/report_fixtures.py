"""Real reports, for tests of the renderings: tests/fixtures/report_<kind>.json, each written by a real grade
(tests/fixtures/make_reports.py; rerun it after a change to the report's fields).

passing: the reference, full marks, with SR crops and the held-out MNIST metrics. partial: a wrong channel
order in pixel_shuffle for r = 3 and small training budgets (partial credit), sr.psnr visible only after the
due date; a test that needs a flag adds one. crashed: neither file compiles.
hostile: code that prints control characters, markup and a flood of text, then raises everywhere.
Every call returns a fresh Report, so a test may change it.
"""
from __future__ import annotations

import json
from pathlib import Path

from grader.result import Report

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KINDS = ("passing", "partial", "crashed", "hostile")
HOSTILE = "<script>alert(1)</script> & \"quotes\" ]]> \x00\x1b[31m | ``` </pre>"
NOISE = "<script>alert(1)</script> & \"q\" ]]> </pre> | ``` \x00\x07\x1b[31mred\x1b[0m \r\u202eevil\n"
HOSTILE_MODEL = f'''import sys
print({NOISE!r} * 800)
sys.stderr.write("E" * 50_000 + "\\n")
raise RuntimeError({NOISE!r} * 3)
'''
HOSTILE_SHUFFLE = f'''print({NOISE!r} * 800)
def pixel_shuffle(x, r):
    print({NOISE!r} * 200)
    raise ValueError({NOISE!r})
pixel_unshuffle = pixel_shuffle
class PixelShuffle:
    def __init__(self, r):
        raise ValueError({NOISE!r})
'''


def load(kind: str) -> Report:
    return Report.from_dict(json.loads((FIXTURES / f"report_{kind}.json").read_text()))


def _loader(kind: str):
    return lambda: load(kind)


REPORTS = {kind: _loader(kind) for kind in KINDS}
ALL = {kind: REPORTS[kind] for kind in ("passing", "partial", "crashed")}   # what test_summary.py pages through
