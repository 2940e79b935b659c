"""Reaching into the submission: importing its modules, building its models, and wording what went wrong
in a student's terms (StudentError carries a message already written for the student)."""
from __future__ import annotations

import importlib
import sys
import traceback

import torch


class StudentError(Exception):
    """A problem in the student's code, already worded for the student."""


def student_module(name: str):
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        raise StudentError(f"{name}.py has a syntax error at line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        raise StudentError(f"importing {name}.py raised {type(exc).__name__}: {exc}\n{short_traceback()}") from None


def student_attr(module: str, attr: str):
    mod = student_module(module)
    if not hasattr(mod, attr):
        raise StudentError(f"{module}.py does not define `{attr}`")
    return getattr(mod, attr)


def short_traceback() -> str:
    """The traceback frames inside the submission only: what a student can act on."""
    frames = [f for f in traceback.extract_tb(sys.exc_info()[2]) if "submission" in f.filename]
    return "".join(traceback.format_list(frames[-4:])).rstrip()


def size_of(model: torch.nn.Module) -> int:
    """What the parameter budget counts: every parameter and buffer, trainable or frozen, persistent or not
    (a model frozen at construction is still trained once it unfreezes itself; buffers can hold weights)."""
    return sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())


def trainable_of(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_budget(model: torch.nn.Module, max_params: int | None, what: str, when: str = "") -> int:
    size = size_of(model)
    if max_params is not None and size > max_params:
        raise StudentError(f"{what} has {size:,} parameters and buffers{when} (trainable or frozen, all count); "
                           f"the budget is {max_params:,}. Use fewer or narrower layers.")
    return size


def build(cls, *args, device: str, max_params: int | None, what: str):
    """A fresh model, within the budget; returns (model on `device`, its parameter and buffer count)."""
    try:
        model = cls(*args)
    except NotImplementedError:
        raise StudentError(f"{what} raises NotImplementedError: it is still the stub") from None
    if not isinstance(model, torch.nn.Module):
        raise StudentError(f"{what} is a {type(model).__name__}, expected a torch.nn.Module")
    size = check_budget(model, max_params, what)
    return model.to(device), size


def as_tensor(value, what: str) -> torch.Tensor:
    if type(value) is not torch.Tensor:   # exact type: subclasses can lie about comparisons
        raise StudentError(f"{what} returned {type(value).__name__}, expected a torch.Tensor")
    return value


def describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} ({', '.join(describe(v) for v in value[:3])})"
    return f"a {type(value).__name__}"


def explain(exc: BaseException, device: str) -> str:
    """An exception from student code, in a student's terms."""
    if isinstance(exc, StudentError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"the submission called exit({exc.code})"
    if isinstance(exc, NotImplementedError):
        return "a function you must write still raises NotImplementedError (the stub)" + (f": {exc}" if str(exc) else "")
    text = f"{type(exc).__name__}: {exc}"
    gpu_words = ("cuda", "nvidia driver", "nvidia gpu")
    if device == "cpu" and any(word in str(exc).lower() for word in gpu_words):
        return (f"your code uses the GPU (.cuda() or device='cuda'), but grading runs on the CPU here. "
                f"Create tensors on the input's device (x.device) instead. ({text})")
    if isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) or "not enough memory" in str(exc):
        return (f"ran out of memory (over the memory limit): the model or a tensor is far too large "
                f"({type(exc).__name__}: {str(exc)[:200]})")
    return f"{text}\n{short_traceback()}".rstrip()
