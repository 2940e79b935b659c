"""Which evidence decides an item: the static check of the submitted files (trusted: what was handed in,
read before any of it ran) or what the worker reported (the student's process: see grader/worker/__main__.py).

A certain static finding decides alone (score 0, the finding named in the student's terms, what the worker
reported kept below it). Without one, the worker's outputs are checked on the trusted side against answers
the worker never saw; its claims about *what ran* (the trace) only ever take credit away.
Every item's metrics say which evidence decided: "static", "trace", "static+trace", or for trained items
"trained" (see cnn.py).
"""
from __future__ import annotations

from ..staticcheck import FileCheck
from .run import Run

MODEL_ENTRIES = {"cnn": "CNN", "sr": "Net"}


def flag_findings(run: Run, check: FileCheck | None) -> None:
    """Certain findings and notes of a file, for the instructor (once per file in a report)."""
    if check is None:
        return
    certain = [f"line {f.line}: {f.text}" for f in check.findings]
    if certain:
        run.flags.append(f"{check.file}: the static check found {len(certain)} thing(s) the grader cannot trust: "
                         + "; ".join(certain[:6]) + (" ..." if len(certain) > 6 else ""))
    for note in check.notes:
        run.flags.append(f"{check.file} (note, not scored): {note}")


def model_reason(run: Run, group: str) -> str:
    """Why nothing the worker reports for the model items of `group` can be trusted ('' if nothing): escapes in
    model.py's CNN / Net, or in the pixel_shuffle.py code that model.py imports."""
    model = run.static("model.py")
    reasons = [model.reason(MODEL_ENTRIES[group], kinds=("escape",))] if model else []
    shuffle = run.static("pixel_shuffle.py")
    if model and shuffle and "pixel_shuffle" in model.imports:
        found = shuffle.reason("PixelShuffle", kinds=("escape",))
        reasons.append(f"model.py imports pixel_shuffle.py, so its code runs here too. {found}" if found else "")
    return "\n".join(r for r in reasons if r)


def overrule(run: Run, item_ids, reason: str) -> None:
    """Score 0 on the static check's word, keeping what the worker reported below it for the student."""
    for item_id in item_ids:
        item = run.results.get(item_id)
        if item is None:
            continue
        reported = item.output.strip()
        item.set(0, f"{reason}\nNothing this code reports is trusted, so the item earns 0."
                    + (f"\n(What the grader's worker reported: {reported})" if reported else ""),
                 evidence="static")


def judge_model_code(run: Run, group: str) -> None:
    """After a model group scored its items: flag what the static check of model.py found, and if that code
    cannot be trusted, overrule every item of the group with the reason (the groups `cnn` and `sr` share it)."""
    flag_findings(run, run.static("model.py"))
    reason = model_reason(run, group)
    if reason:
        overrule(run, run.results, reason)
