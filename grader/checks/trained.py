"""Trained items: trained in the group's worker, evaluated in a fresh one, counted here.

The training worker returns the trained state: every parameter and persistent buffer, as plain arrays. This
side counts that state itself against the item's budget (the worker's own count is only for messages), then a
fresh worker (a new process and folder) builds the model anew, loads exactly that state and evaluates it. So
nothing a model kept outside its parameters and buffers (Python attributes, module globals, files it wrote,
a switch flipped during training) survives into the evaluation, and what does survive has been counted.
"""
from __future__ import annotations

import re

import numpy as np

from ..config import Item
from ..sandbox import WorkerSession
from .run import Run

MAX_STATE_ENTRIES = 1000        # an honest CNN or ESPCN has a few dozen
STATE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,200}")


def trained_state(run: Run, evidence: str, reply: dict, what: str, budget: Item
                  ) -> list[tuple[str, np.ndarray]] | None:
    """The state the training worker returned, validated and counted; None (owners scored) if unusable."""
    entries = reply.get("state")
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_STATE_ENTRIES or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and STATE_NAME.fullmatch(e["name"])
            for e in entries) or len({e["name"] for e in entries}) != len(entries):
        run.fail(run.owners(evidence), f"the grader's worker returned no usable trained state for {what} "
                                       f"(at most {MAX_STATE_ENTRIES} named arrays)")
        return None
    state = []
    for entry in entries:
        array = run.array(entry.get("file"), evidence)
        if array is None:
            return None
        if array.dtype.kind not in "biufc":
            run.fail(run.owners(evidence), f"{what}'s trained state entry {entry['name']} is a {array.dtype} array, "
                                           f"not numbers")
            return None
        state.append((entry["name"], array))
    size = sum(int(a.size) for _, a in state)
    reply["params_and_buffers"] = size
    if budget.over_budget(size):
        for item_id in run.owners(evidence):
            run.results[item_id].set(0, f"After training, {what} holds {size:,} parameters and buffers (counted by "
                                        f"the grader on the trained state); the budget is {budget.max_params:,}.",
                                     params_and_buffers=size)
        return None
    return state


def send_state(session: WorkerSession, state: list[tuple[str, np.ndarray]]) -> list[dict]:
    """The state as inputs of the evaluating worker: [{name, file}]."""
    return [{"name": name, "file": session.write_input(f"state_{k}", array)} for k, (name, array) in enumerate(state)]
