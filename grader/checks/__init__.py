"""The item groups: what each sends to a worker, and how the trusted side scores what comes back.

One module per group (shuffle.py, cnn.py, sr.py), each with `GROUP` (its name in grader/items.py),
`score(run)`, which fills in the ItemResults of the group's items from the replies of one fresh worker,
`prepare(config, data)`, which loads the data it reads before any worker starts (groups run side by side,
and the data's decoding subprocess must not start beside a worker), and `WEIGHT`, its rough CPU cost (the
heaviest groups start first).
To add an item: declare it in grader/items.py, give it points in grading.yaml, score it in its group.
"""
from __future__ import annotations

from typing import Callable

from ..items import GROUPS as DECLARED_GROUPS
from . import cnn, shuffle, sr
from .run import TRAIN_SEED, Run

__all__ = ["GROUPS", "Run", "TRAIN_SEED"]

MODULES = (shuffle, cnn, sr)
GROUPS: dict[str, Callable[[Run], None]] = {module.GROUP: module.score for module in MODULES}
PREPARE: dict[str, Callable] = {module.GROUP: module.prepare for module in MODULES}
WEIGHT: dict[str, float] = {module.GROUP: module.WEIGHT for module in MODULES}

if tuple(GROUPS) != DECLARED_GROUPS:   # every item's group is scored by exactly one module, in rubric order
    raise ImportError(f"grader/checks/: group modules {tuple(GROUPS)} do not match the groups declared in "
                      f"grader/items.py {DECLARED_GROUPS}")
