"""A trained model's state between two workers: exported as plain arrays by the one that trained it, loaded
into a freshly built model by another that evaluates it (see grader/checks/trained.py for why).

Only parameters and persistent buffers travel; what a model kept anywhere else (Python attributes, module
globals, files, other objects) stays behind in the training worker, which is gone by then.
"""
from __future__ import annotations

import numpy as np
import torch

from .student import StudentError


def export_state(model: torch.nn.Module, save) -> list[dict]:
    """Every entry of model.state_dict(), saved with `save(name, tensor)`: [{name, file}] in order."""
    entries = []
    for k, (name, tensor) in enumerate(model.state_dict().items()):
        if not isinstance(tensor, torch.Tensor) or tensor.is_sparse or tensor.is_quantized:
            raise StudentError(f"the model's state entry {name!r} is not a plain dense tensor")
        tensor = tensor.detach().to("cpu")
        if tensor.dtype == torch.bfloat16:      # numpy has no bfloat16; loading casts it back
            tensor = tensor.float()
        entries.append({"name": name, "file": save(f"state_{k}", tensor)})
    return entries


def received_state(specs: list[dict], load) -> dict[str, torch.Tensor]:
    return {spec["name"]: torch.from_numpy(np.array(load(spec["file"]))) for spec in specs}


def load_trained(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load exactly the trained state into a freshly built model: same names, same shapes, nothing more."""
    own = model.state_dict()
    missing, extra = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    if missing or extra:
        raise StudentError(f"after training, {what} has state entries a freshly built {what} does not "
                           f"({', '.join(extra[:5]) or 'none'}) or lacks ones it has ({', '.join(missing[:5]) or 'none'}):"
                           f" a model must not add or drop parameters or buffers while it trains")
    wrong = [n for n in own if tuple(own[n].shape) != tuple(state[n].shape)]
    if wrong:
        raise StudentError(f"after training, {what}'s {wrong[0]} has shape {tuple(state[wrong[0]].shape)}, but a "
                           f"freshly built {what} has {tuple(own[wrong[0]].shape)}: shapes must not change in training")
    model.load_state_dict(state, strict=True)


def with_buffers_only(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    """Load only the trained buffers into `model` (built with other random parameters than the trained one);
    False if the model has no persistent buffers (nothing to check then)."""
    buffers = {name for name, _ in model.named_buffers()} & state.keys()
    if not buffers:
        return False
    model.load_state_dict({name: state[name] for name in buffers}, strict=False)
    return True
