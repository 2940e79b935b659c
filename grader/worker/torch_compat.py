"""Every private torch API the worker relies on, in one place, checked against the installed torch at import.

The worker must not load torch._dynamo / torch._inductor (+150 MB RSS and ~2 s per worker, torch 2.14), and
must see every pixel_(un)shuffle call however a submission reaches it. Both need APIs torch does not promise
to keep. Each is wrapped here and its behaviour (not only its existence) is checked when this module is
imported, so a torch that changed one fails the worker at start-up with one clear error naming the torch
version and the API, instead of grading wrongly or slowly. The checks leave torch's global state as it was.
"""
from __future__ import annotations

import warnings

import torch

CHECKED_ON = ("2.14.1", "2.15.0")   # torch versions these checks and the worker's tests have passed on


class TorchCompatError(RuntimeError):
    """The installed torch lacks, or changed, a private API the worker needs."""

    def __init__(self, api: str, problem: str):
        super().__init__(f"the grader's worker cannot run on torch {torch.__version__}: {api} {problem} "
                         f"(checked on torch {', '.join(CHECKED_ON)}; install one of those, or update "
                         f"grader/worker/torch_compat.py)")


def _require(owner, name: str, api: str):
    if not hasattr(owner, name):
        raise TorchCompatError(api, "does not exist")
    return getattr(owner, name)


try:
    from torch.utils._python_dispatch import TorchDispatchMode
except ImportError:
    raise TorchCompatError("torch.utils._python_dispatch.TorchDispatchMode", "does not exist") from None
_set_deterministic = _require(torch._C, "_set_deterministic_algorithms", "torch._C._set_deterministic_algorithms")
_Library = _require(torch.library, "Library", "torch.library.Library")


def use_deterministic_algorithms() -> None:
    """= torch.use_deterministic_algorithms(True, warn_only=True), minus its import of torch._inductor."""
    _set_deterministic(True, warn_only=True)


class DispatchRecorder(TorchDispatchMode):
    """Base for a dispatch mode whose __torch_dispatch__ torch must not wrap in dynamo.disable (the wrapper
    imports torch._dynamo on its first call): the `_should_skip_dynamo` hook opts out."""

    @classmethod
    def _should_skip_dynamo(cls):
        return False


def override_kernels(namespace: str, kernels: dict, dispatch_keys=("CPU", "CUDA")):
    """Replace torch's own kernels of the named ops, for the whole process, for as long as the returned
    library object lives. A key this torch build lacks (CUDA on a CPU build) is skipped."""
    library = _Library(namespace, "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "overriding a previously registered kernel": that is the point
        for key in dispatch_keys:
            for name, kernel in kernels.items():
                try:
                    library.impl(name, kernel, key)
                except Exception:
                    if key == "CPU":
                        raise TorchCompatError(f'torch.library.Library("{namespace}", "IMPL").impl',
                                               f"refused a CPU kernel for {name}") from None
    return library


def _check_deterministic_flag() -> None:
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        use_deterministic_algorithms()
        if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) \
                != (True, True):
            raise TorchCompatError("torch._C._set_deterministic_algorithms(True, warn_only=True)",
                                   "did not turn deterministic algorithms on (warn-only)")
    finally:
        _set_deterministic(before[0], warn_only=before[1])


def _check_dispatch_recorder() -> None:
    def dispatch(self, func, types, args=(), kwargs=None):
        self.seen.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))

    probe = type("Probe", (DispatchRecorder,), {"__torch_dispatch__": dispatch})
    if probe.__dict__["__torch_dispatch__"] is not dispatch:
        raise TorchCompatError("TorchDispatchMode._should_skip_dynamo", "no longer stops torch from wrapping "
                               "__torch_dispatch__ in dynamo.disable (each worker would import torch._dynamo)")
    mode = probe()
    mode.seen = []
    with mode:
        torch.ones(2).add(1)
    if "add" not in mode.seen:
        raise TorchCompatError("TorchDispatchMode", f"did not report aten ops by name (saw {mode.seen})")


_check_deterministic_flag()
_check_dispatch_recorder()
