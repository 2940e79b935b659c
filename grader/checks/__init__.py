"""The item groups: what each sends to a worker, and how the trusted side scores what comes back.

One module per group (shuffle.py, cnn.py, sr.py), each with `GROUP` (its name in grader/items.py) and
`score(run)`, which fills in the ItemResults of the group's items from the replies of one fresh worker.
To add an item: declare it in grader/items.py, give it points in grading.yaml, score it in its group.
"""
from __future__ import annotations

from typing import Callable

from ..items import GROUPS as DECLARED_GROUPS
from . import cnn, shuffle, sr
from .run import TRAIN_SEED, Run

__all__ = ["GROUPS", "Run", "TRAIN_SEED"]

GROUPS: dict[str, Callable[[Run], None]] = {module.GROUP: module.score for module in (shuffle, cnn, sr)}

if tuple(GROUPS) != DECLARED_GROUPS:   # every item's group is scored by exactly one module, in rubric order
    raise ImportError(f"grader/checks/: group modules {tuple(GROUPS)} do not match the groups declared in "
                      f"grader/items.py {DECLARED_GROUPS}")
