"""Did the submission replace part of the worker? A snapshot of everything it must not touch, taken before
any student code runs, compared by identity after every task.

Guarded: every global of every module of this package (functions, classes, the shuffle log, the modules they
imported) and every attribute of the classes defined here, plus what sends the replies and traces calls
outside the package (json's encoder, np.save, sys.setprofile, TorchDispatchMode.__enter__). The snapshot keeps
its own references to the modules and to `guarded`, so patching this module cannot blind the check.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np

from .torch_compat import TorchDispatchMode


@dataclass(frozen=True)
class Snapshot:
    modules: tuple[ModuleType, ...]
    values: dict
    collect: Callable[[tuple[ModuleType, ...]], dict]


def outside_package() -> dict:
    return {"json.dumps": json.dumps, "json.JSONEncoder.encode": json.JSONEncoder.encode,
            "json.JSONEncoder.iterencode": json.JSONEncoder.iterencode,
            "json.encoder.c_make_encoder": json.encoder.c_make_encoder,
            "json.encoder.encode_basestring_ascii": json.encoder.encode_basestring_ascii,
            "np.save": np.save, "sys.setprofile": sys.setprofile,
            "TorchDispatchMode.__enter__": TorchDispatchMode.__enter__}


def guarded(modules: tuple[ModuleType, ...]) -> dict:
    found = outside_package()
    for module in modules:
        for name, value in list(vars(module).items()):
            if name.startswith("__"):
                continue
            found[f"{module.__name__}.{name}"] = value
            if isinstance(value, type) and value.__module__ == module.__name__:
                for attr, member in list(vars(value).items()):
                    found[f"{module.__name__}.{name}.{attr}"] = member
    return found


def snapshot() -> Snapshot:
    """Call once every module of the package is imported, before any student code."""
    package = __package__
    modules = tuple(module for name, module in list(sys.modules.items())
                    if name == package or name.startswith(package + "."))
    return Snapshot(modules, guarded(modules), guarded)


def tampered(snap: Snapshot) -> list[str]:
    """Names in the snapshot that no longer are what they were."""
    current = snap.collect(snap.modules)
    return sorted(name for name, value in snap.values.items() if current.get(name) is not value)
