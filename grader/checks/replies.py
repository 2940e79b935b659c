"""What each worker task may reply, declared once, and the check every reply passes before scoring code reads it.

Student code runs in the worker, and the worker's trust model says it can reach the reply channel: a reply
that is well-formed JSON with the right token can still carry a list where a mapping is expected or a string
where a count is. Run.call checks each reply's shape and types here, so a bad reply fails only the items
scored from that call (grader/items.py says which) and the scoring code never meets a wrong type.

>>> reply_problem("cnn_interface", {"size": "big", "trainable": 3})
"size: expected int, got 'big'"
>>> reply_problem("sr_interface", {"factors": ["x"]}) is not None
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class ListOf:
    item: Spec
    most: int = 100_000


@dataclass(frozen=True)
class MapOf:
    """A mapping of string keys (of at most `most` entries) to values of one kind."""
    value: Spec
    most: int = 1_000


@dataclass(frozen=True)
class Fields:
    """A mapping with these keys: required ones, and optional ones that may be absent. Other keys are ignored."""
    required: dict[str, Spec]
    optional: dict[str, Spec]


Spec = Union[type, tuple, ListOf, MapOf, Fields]

PATH = str                     # an output array's relative path: WorkerSession.read_output checks the rest
COUNT = int                    # bool is refused where an int is declared
NUMBER = (int, float)
LOSSES = ListOf(ListOf(NUMBER, most=2))   # [[step, loss], ...]
TRAINED = Fields({"state": list, "losses": LOSSES, "size": COUNT, "size_after": COUNT, "trainable": COUNT}, {})

REPLIES: dict[str, Spec] = {   # by worker task (grader/worker/tasks.py)
    "shuffle": Fields({"cases": ListOf(Fields({}, {"output": PATH, "grad": PATH, "ops": ListOf(str), "einops": bool,
                                                   "error": str}), most=1_000)}, {}),
    "cnn_interface": Fields({"size": COUNT, "trainable": COUNT},
                            {"logits": PATH, "embedding": PATH, "shape_error": str}),
    "cnn_train": TRAINED,
    "cnn_eval": Fields({"predictions": PATH, "untrained": PATH, "size": COUNT},   # the pictures' arrays optional:
                       {"buffers_only": (PATH, type(None)), "embedding": PATH, "first_conv": PATH}),  # no Conv2d...
    "sr_interface": Fields({"factors": MapOf(Fields({}, {"output": PATH, "trainable": COUNT, "size": COUNT,
                                                         "error": str}))}, {}),
    "sr_train": TRAINED,
    "sr_eval": Fields({"outputs": PATH, "pretrain_outputs": PATH, "size": COUNT}, {}),
}


def reply_problem(task: str, result: Any) -> str | None:
    """What is wrong with a worker's `result` for `task` (the first problem, with its path), or None."""
    return _problem(REPLIES[task], result, "")


def _problem(spec: Spec, value: Any, where: str) -> str | None:
    at = f"{where}: " if where else ""
    if isinstance(spec, Fields):
        if not isinstance(value, dict):
            return f"{at}expected a mapping, got {_short(value)}"
        for key, inner in spec.required.items():
            if key not in value:
                return f"{_join(where, key)}: is missing"
        for key, inner in (*spec.required.items(), *spec.optional.items()):
            if key in value and (problem := _problem(inner, value[key], _join(where, key))):
                return problem
        return None
    if isinstance(spec, ListOf):
        if not isinstance(value, list) or len(value) > spec.most:
            return f"{at}expected a list of at most {spec.most} entries, got {_short(value)}"
        return next(filter(None, (_problem(spec.item, v, f"{where}[{k}]") for k, v in enumerate(value))), None)
    if isinstance(spec, MapOf):
        if not isinstance(value, dict) or len(value) > spec.most or not all(isinstance(k, str) for k in value):
            return f"{at}expected a mapping of at most {spec.most} entries, got {_short(value)}"
        return next(filter(None, (_problem(spec.value, v, _join(where, k)) for k, v in value.items())), None)
    kinds = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        return f"{at}expected {' or '.join('null' if k is type(None) else k.__name__ for k in kinds)}, got {_short(value)}"
    return None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
