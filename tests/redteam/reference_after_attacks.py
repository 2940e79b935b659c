"""Measure: is the reference still graded 100 right after every attack, on a bit-identical cache?

    GRADER_DATA_DIR=... python tests/redteam/reference_after_attacks.py [--sandbox bwrap] [--cases a b ...]

For each case in cases/ (all by default): grade the attack as test_redteam.py does (red-team rubric, data
slices), then grade the reference with the committed grading.yaml (quick profile, all the real data) in the
same sandbox, and check the decode cache's SHA-256s, the temp folder's worker folders and /dev/shm against
what they were before the attack. Prints one line per case and a summary; exits 1 if any check failed.
test_redteam.py proves the same per case in CI on the red-team rubric; this is the full-rubric run, too
slow for CI (~70 s a case on 2 cores), quoted in README.md.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent), str(HERE)]

from conftest import PATHS  # noqa: E402
from grader.config import DEFAULT_CONFIG, REPO_ROOT, load_config  # noqa: E402
from grader.data import Datasets  # noqa: E402
from grader.orchestrator import grade  # noqa: E402
from test_redteam import CASES, DATA, cache_digest, leftovers, submission, write_rubric  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default="bwrap", choices=["bwrap", "process"])
    parser.add_argument("--cases", nargs="*", default=sorted(CASES))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="reference-after-"))
    attack_rubric = load_config(write_rubric(work / "redteam.yaml"), "quick")
    committed = load_config(DEFAULT_CONFIG, "quick")
    full_data = Datasets(PATHS)
    alone = grade(REPO_ROOT / "reference", committed, full_data, sandbox=args.sandbox)
    print(f"reference alone: {alone.score:g}/{alone.max_score:g}, flags {alone.flags}", flush=True)
    failures = 0
    for name in args.cases:
        cache, left = cache_digest(), leftovers()
        started = time.monotonic()
        attack = grade(submission(name, work / name), attack_rubric, DATA, sandbox=args.sandbox)
        after = grade(REPO_ROOT / "reference", committed, full_data, sandbox=args.sandbox)
        now = cache_digest()
        changed = [n for n in cache if now.get(n) != cache[n] and not n.startswith("SHA256SUMS")]
        new = sorted(leftovers() - left)
        same = [t.score for t in after.tests] == [t.score for t in alone.tests] and \
            [t.metrics for t in after.tests] == [t.metrics for t in alone.tests]
        ok = same and after.score == after.max_score and not after.flags and not changed and not new
        failures += not ok
        print(f"{name:24s} attack {attack.score:5.1f}  reference after {after.score:g}/{after.max_score:g}"
              f"{'' if same else ' (DIFFERS from alone)'}  flags {after.flags or 'none'}  cache "
              f"{'bit-identical' if not changed else 'CHANGED ' + ', '.join(changed)}  left behind "
              f"{new or 'nothing'}  {time.monotonic() - started:.0f} s", flush=True)
    print(f"{len(args.cases) - failures}/{len(args.cases)} cases: reference 100 and identical to alone, "
          f"cache bit-identical, nothing left behind ({args.sandbox})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
