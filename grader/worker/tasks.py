"""The tasks a worker serves, by request name (TASKS). Each takes the request and a progress callback and
returns a JSON-able result; arrays go both ways as .npy files (never pickle): inputs under in/, outputs
written under out/ and named by their relative path. Only raw model outputs come back: the trusted side scores.

Request fields, besides "id" and "task":
  shuffle        fn ("pixel_shuffle" | "pixel_unshuffle" | "PixelShuffle"), cases: [{input, factor,
                 transposed?, grad_weight? (PixelShuffle)}]
  cnn_interface  input
  cnn_train      device, max_params, train_x, train_y, steps, batch_size, lr, optimizer, schedule, seed
  cnn_eval       device, max_params, state, eval_x, probe_x, embed_x, embed_dims, seed   (a fresh worker: state.py)
  sr_interface   input, factors
  sr_train       device, upscale_factor, max_params, train_lr, train_hr, steps, batch_size, patch, lr,
                 optimizer, schedule, seed
  sr_eval        device, upscale_factor, max_params, state, test_lr, pretrain_eval, seed   (a fresh worker)
A trained model comes back as its state ([{name, file}], state.py), never evaluated by the worker that trained it.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .state import export_state, load_trained, received_state, with_buffers_only
from .student import StudentError, as_tensor, build, check_budget, describe, short_traceback, student_attr, trainable_of
from .tracing import traced_call
from .training import (MNIST_EVAL_BATCH, first_output, normalize_mnist, predict, train_classifier,
                       train_super_resolution)


def load(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save(name: str, tensor: torch.Tensor) -> str:
    path = os.path.join("out", name + ".npy")
    np.save(path, tensor.detach().to("cpu").contiguous().numpy(), allow_pickle=False)
    return path


def task_shuffle(req, progress):
    """Call pixel_shuffle / pixel_unshuffle / PixelShuffle on each case; return outputs and what ran."""
    kind, results = req["fn"], []
    for k, case in enumerate(req["cases"]):
        x = torch.from_numpy(load(case["input"]))
        if case.get("transposed"):
            x = x.transpose(-1, -2)          # a non-contiguous view with the intended shape
        entry = {}
        try:
            if kind == "PixelShuffle":
                module = student_attr("pixel_shuffle", "PixelShuffle")(case["factor"])
                if not isinstance(module, torch.nn.Module):
                    raise StudentError(f"PixelShuffle({case['factor']}) is a {type(module).__name__}, "
                                       f"expected a torch.nn.Module")
                x.requires_grad_(True)
                out, ops, einops_ran = traced_call(module, x)
                out = as_tensor(out, "PixelShuffle.forward")
                (out * torch.from_numpy(load(case["grad_weight"]))).sum().backward()
                if x.grad is None:
                    raise StudentError("no gradient reached the input: the output is detached from it")
                entry["grad"] = save(f"{kind}_{k}_grad", x.grad)
            else:
                fn = student_attr("pixel_shuffle", kind)
                out, ops, einops_ran = traced_call(fn, x, case["factor"])
                out = as_tensor(out, kind)
            entry.update(output=save(f"{kind}_{k}", out), ops=ops, einops=einops_ran)
        except StudentError as exc:
            entry["error"] = str(exc)
        except NotImplementedError:
            entry["error"] = f"{kind} raises NotImplementedError: it is still the stub"
        except Exception as exc:
            entry["error"] = f"{kind} raised {type(exc).__name__}: {exc}\n{short_traceback()}".rstrip()
        results.append(entry)
        progress(k + 1)
    return {"cases": results}


def task_cnn_interface(req, progress):
    model, size = build(student_attr("model", "CNN"), device="cpu", max_params=None, what="CNN()")
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(load(req["input"])))
    sizes = {"size": size, "trainable": trainable_of(model)}
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return {"shape_error": f"CNN.forward must return (logits, embedding), got {describe(out)}", **sizes}
    logits, embedding = as_tensor(out[0], "CNN.forward (logits)"), as_tensor(out[1], "CNN.forward (embedding)")
    return {"logits": save("cnn_logits", logits), "embedding": save("cnn_embedding", embedding), **sizes}


def trained(model, losses, size, max_params, what) -> dict:
    """What a training task returns: the trained state, and the sizes before and after (the trusted side counts
    the state itself; these are for the messages)."""
    after = check_budget(model, max_params, what, " after training")
    return {"state": export_state(model, save), "losses": losses, "size": size, "size_after": after,
            "trainable": trainable_of(model)}


def task_cnn_train(req, progress):
    device = req["device"]
    model, size = build(student_attr("model", "CNN"), device=device, max_params=req["max_params"], what="CNN()")
    losses = train_classifier(model, torch.from_numpy(load(req["train_x"])), torch.from_numpy(load(req["train_y"])),
                              steps=req["steps"], batch_size=req["batch_size"], lr=req["lr"],
                              optimizer=req["optimizer"], schedule=req.get("schedule", "none"), seed=req["seed"],
                              device=device, progress=progress)
    return trained(model, losses, size, req["max_params"], "CNN()")


def embedding_of(out):
    """The embedding a CNN returned, one row per image (the logits' predict already required the pair)."""
    return as_tensor(out[1], "CNN.forward (embedding)").float().flatten(1)


def principal_components(x: torch.Tensor, dims: int) -> torch.Tensor:
    """`x` (N, D) centred and projected on its first `dims` principal axes (from the N x N Gram matrix: a
    small eigenproblem, about 10 MB, where an SVD of x took 46 MB more of the worker's memory limit), each
    axis's sign fixed by its largest entry: the same embedding always gives the same numbers. Here, not on
    the trusted side, whose group threads once hung in a threaded LAPACK call."""
    x = x - x.mean(0)
    values, vectors = torch.linalg.eigh((x @ x.T).double())
    k = min(dims, len(values))
    top = values.flip(0)[:k].clamp(min=0).sqrt()
    reduced = vectors.flip(1)[:, :k] * top          # = U S of the SVD
    signs = torch.sign(reduced[reduced.abs().argmax(0), torch.arange(k)])
    return (reduced * torch.where(signs == 0, 1.0, signs)).float()


def first_conv_weight(model):
    """The first Conv2d's weight (out, in, kh, kw), or None: the filters the report draws."""
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    return None if conv is None else conv.weight.float()


def task_cnn_eval(req, progress):
    """Predictions of the trained CNN, rebuilt here from its state; of the fresh untrained CNN; and of a CNN
    with the trained buffers but other random parameters (both of the last should be at chance). Also, for
    the report's pictures, the trained CNN's embedding of the embed_x images (reduced to embed_dims principal
    components) and its first convolution's weight, as plain arrays (drawn on the trusted side)."""
    device, cls = req["device"], student_attr("model", "CNN")
    argmax = lambda out: first_output(out, "CNN.forward").argmax(1)
    probe = torch.from_numpy(load(req["probe_x"]))
    model, size = build(cls, device=device, max_params=req["max_params"], what="CNN()")
    untrained = predict(model, probe, MNIST_EVAL_BATCH, argmax, device, normalize_mnist)
    state = received_state(req["state"], load)
    load_trained(model, state, "CNN()")
    after = predict(model, torch.from_numpy(load(req["eval_x"])), MNIST_EVAL_BATCH, argmax, device, normalize_mnist)
    pictures = {}
    try:   # only a picture: an embedding that is no (N, ...) tensor of numbers costs the picture, not the score
        with torch.no_grad():
            embedding = predict(model, torch.from_numpy(load(req["embed_x"])), MNIST_EVAL_BATCH, embedding_of,
                                device, normalize_mnist)
            pictures["embedding"] = save("cnn_embedding_sample", principal_components(embedding, req["embed_dims"]))
    except Exception:
        pass
    if (weight := first_conv_weight(model)) is not None:
        pictures["first_conv"] = save("cnn_first_conv", weight)
    torch.manual_seed(req["seed"] + 7919)
    other, _ = build(cls, device=device, max_params=req["max_params"], what="CNN()")
    buffers_only = None
    if with_buffers_only(other, state):
        buffers_only = save("cnn_buffers_only", predict(other, probe, MNIST_EVAL_BATCH, argmax, device,
                                                         normalize_mnist))
    return {"predictions": save("cnn_predictions", after), "untrained": save("cnn_untrained", untrained),
            "buffers_only": buffers_only, "size": size, **pictures}


def task_sr_interface(req, progress):
    cls, results = student_attr("model", "Net"), {}
    x = torch.from_numpy(load(req["input"]))
    for r in req["factors"]:
        try:
            model, size = build(cls, r, device="cpu", max_params=None, what=f"Net({r})")
            model.eval()
            with torch.no_grad():
                out = as_tensor(model(x), f"Net({r}).forward")
            results[str(r)] = {"output": save(f"sr_{r}", out), "trainable": trainable_of(model), "size": size}
        except StudentError as exc:
            results[str(r)] = {"error": str(exc)}
        except Exception as exc:
            results[str(r)] = {"error": f"Net({r}) raised {type(exc).__name__}: {exc}\n{short_traceback()}".rstrip()}
    return {"factors": results}


def task_sr_train(req, progress):
    device, r = req["device"], req["upscale_factor"]
    model, size = build(student_attr("model", "Net"), r, device=device, max_params=req["max_params"],
                        what=f"Net({r})")
    losses = train_super_resolution(model, torch.from_numpy(load(req["train_lr"])),
                                    torch.from_numpy(load(req["train_hr"])), r=r, steps=req["steps"],
                                    batch_size=req["batch_size"], patch=req["patch"], lr=req["lr"],
                                    optimizer=req["optimizer"], schedule=req["schedule"], seed=req["seed"],
                                    device=device, progress=progress)
    return trained(model, losses, size, req["max_params"], f"Net({r})")


def task_sr_eval(req, progress):
    device, r = req["device"], req["upscale_factor"]
    model, size = build(student_attr("model", "Net"), r, device=device, max_params=req["max_params"],
                        what=f"Net({r})")
    test_lr = torch.from_numpy(load(req["test_lr"]))
    as_output = lambda out: as_tensor(out, f"Net({r}).forward")
    before = predict(model, test_lr[:req["pretrain_eval"]], 4, as_output, device)
    load_trained(model, received_state(req["state"], load), f"Net({r})")
    after = predict(model, test_lr, 4, as_output, device)
    return {"outputs": save("sr_outputs", after.float()), "pretrain_outputs": save("sr_pretrain", before.float()),
            "size": size}


TASKS = {"shuffle": task_shuffle, "cnn_interface": task_cnn_interface, "cnn_train": task_cnn_train,
         "cnn_eval": task_cnn_eval, "sr_interface": task_sr_interface, "sr_train": task_sr_train,
         "sr_eval": task_sr_eval}
