"""The static check of a submission's files, on the trusted side: evidence the student's running code cannot edit.

Everything inside the worker process is the student's (see grader/worker/__main__.py): its tracer, its
replies, its token. What the student handed in is not: this reads `pixel_shuffle.py` and `model.py` as text
(ast, never imported) before any of it runs and reports, per graded entry point, the code that
- reaches torch's own pixel_shuffle / pixel_unshuffle / PixelShuffle / PixelUnshuffle (pixel_shuffle.py),
  however aliased, through getattr with a constant name, or on an object the grader cannot identify;
- can hide what ran from the worker's tracer or forge what the worker reports: other processes and threads,
  frames and the object graph, sys.modules, the dispatch-mode stack, the worker's modules, getattr with a
  computed name, eval/exec/importlib/pickle, raw files and fds, edits to library modules;
and whether the entry point's code uses einops at all. Only code that runs during grading counts: the body of
`if __name__ == "__main__":` and functions no entry point reaches (self-tests, training scripts) do not.

>>> check_source(b"import torch.nn.functional as F\\ndef pixel_shuffle(x, r):\\n    return F.pixel_shuffle(x, r)\\n",
...              "pixel_shuffle.py").against("pixel_shuffle")[0].text
"reaches torch's own torch.nn.functional.pixel_shuffle"
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ..submission_files import SubmissionFileError, read_submission_file
from .rules import PAYLOAD_NOTE_BYTES
from .scan import Scan

MAX_SOURCE_BYTES = 1 << 20   # honest files are a few KB; a bigger one is data, and would slow the check


@dataclass(frozen=True)
class Policy:
    entries: tuple[str, ...]          # what the grader calls
    torch_shuffle: bool               # is reaching torch's own shuffle a finding here
    own_modules: frozenset[str]       # modules of the submission this file may use


POLICIES = {
    "pixel_shuffle.py": Policy(("pixel_shuffle", "pixel_unshuffle", "PixelShuffle"), True,
                               frozenset({"pixel_shuffle"})),
    "model.py": Policy(("CNN", "Net"), False, frozenset({"model", "pixel_shuffle"})),
}


@dataclass(frozen=True)
class Finding:
    line: int
    text: str                    # what the code does, in a student's terms
    kind: str                    # "torch_shuffle" | "escape"
    entries: frozenset[str]      # the entry points whose graded code runs it


@dataclass(frozen=True)
class FileCheck:
    file: str
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()          # for the instructor: unusual, not a verdict
    einops_in: frozenset[str] = frozenset()
    payload_bytes: int = 0               # constant data (strings, bytes, numbers) in the code the grader runs
    imports: frozenset[str] = frozenset()   # top-level modules it imports anywhere ("pixel_shuffle", "torch")
    unreadable: str = ""                 # a syntax error: nothing is decided here, importing it fails anyway

    def against(self, entry: str, kinds=("torch_shuffle", "escape")) -> list[Finding]:
        return [f for f in self.findings if entry in f.entries and f.kind in kinds]

    def reason(self, entry: str, kinds=("torch_shuffle", "escape")) -> str:
        """The findings against `entry` as one student-readable paragraph ('' when there are none)."""
        found = self.against(entry, kinds)
        if not found:
            return ""
        lines = "\n".join(f"- {self.file} line {f.line}: {f.text}" for f in found[:8])
        more = f"\n- ... and {len(found) - 8} more" if len(found) > 8 else ""
        return (f"The grader read {self.file} before running it and found code that {entry} runs which "
                f"{'reaches torch' if all(f.kind == 'torch_shuffle' for f in found) else 'the grader cannot trust'}:"
                f"\n{lines}{more}\n(Self-tests may use anything under `if __name__ == \"__main__\":`.)")


def check_source(source: bytes, name: str) -> FileCheck:
    policy = POLICIES[name]
    everywhere = frozenset(policy.entries)
    if len(source) > MAX_SOURCE_BYTES:
        return FileCheck(name, (Finding(0, f"the file is {len(source):,} bytes, more than the "
                                           f"{MAX_SOURCE_BYTES:,} the grader checks", "escape", everywhere),))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        return FileCheck(name, unreadable=str(exc))
    scan = Scan(policy.entries, policy.torch_shuffle, policy.own_modules)
    try:
        scan.run(tree)
    except RecursionError:
        return FileCheck(name, (Finding(0, "the code is nested too deeply for the grader to check", "escape",
                                        everywhere),))
    findings = tuple(Finding(line, text, kind, frozenset(entries))
                     for (line, text), (kind, entries) in sorted(scan.findings.items()) if entries)
    notes = sorted(scan.notes)
    if scan.payload_bytes > PAYLOAD_NOTE_BYTES:
        notes.insert(0, f"{scan.payload_bytes / 1024:.0f} KB of constant data in the code the grader runs "
                        f"(honest files have well under 1 KB): embedded weights or test images?")
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | \
        {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    return FileCheck(name, findings, tuple(notes), frozenset(scan.einops_entries()), scan.payload_bytes,
                     frozenset(imports))


def check_file(folder: Path, name: str) -> FileCheck | None:
    """The check of folder/name, or None when the file is missing."""
    try:
        return check_source(read_submission_file(folder, name), name)
    except (FileNotFoundError, SubmissionFileError):   # the orchestrator reports why; nothing of it runs
        return None
