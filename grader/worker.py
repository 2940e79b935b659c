"""Worker: the only process that imports and runs student code.

Standalone on purpose (no `grader` imports): the orchestrator copies this file into a private folder and
starts it with `python -I worker.py REPLY_FD`, so student code cannot reach the grader, the rubric or the
report. Requests arrive as JSON lines on stdin; replies leave as JSON lines on REPLY_FD; arrays travel as
.npy files (never pickle). The worker returns raw model outputs only: every score is computed by the
trusted side. The training loops live here (`train_classifier`, `train_super_resolution`) and are the ones
`bench/` measures.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081   # torchvision Normalize values of the practical
MNIST_EVAL_BATCH = 250   # the reference CNN's worker peaks at 652 MB with 250, 773 MB with 1000 (torch 2.14)
TORCH_SHUFFLE_OPS = {"pixel_shuffle", "pixel_unshuffle"}


class StudentError(Exception):
    """A problem in the student's code, already worded for the student."""


# ---------------------------------------------------------------- tracing what actually executes
class _OpRecorder(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls):
        return False   # else torch wraps __torch_dispatch__ in dynamo.disable: +150 MB for importing torch._dynamo

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


# torch's own pixel_(un)shuffle kernels are replaced, for the whole worker process, by equivalents that
# first log the call. Unlike the dispatch mode above (per thread, and a submission can pop it off the mode
# stack) this sees every call however it is reached: aliases, getattr, nn.PixelShuffle, other threads.
_TORCH_SHUFFLE_LOG: list[str] = []


def _logged_pixel_shuffle(x, r):
    _TORCH_SHUFFLE_LOG.append("pixel_shuffle")
    *lead, c, h, w = x.shape
    out = x.reshape(*lead, c // (r * r), r, r, h, w).movedim((-4, -3), (-3, -1))
    return out.reshape(*lead, c // (r * r), h * r, w * r).clone(memory_format=torch.contiguous_format)


def _logged_pixel_unshuffle(x, r):
    _TORCH_SHUFFLE_LOG.append("pixel_unshuffle")
    *lead, c, h, w = x.shape
    out = x.reshape(*lead, c, h // r, r, w // r, r).movedim((-3, -1), (-4, -3))
    return out.reshape(*lead, c * r * r, h // r, w // r).clone(memory_format=torch.contiguous_format)


def _install_shuffle_log():
    import warnings
    lib = torch.library.Library("aten", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in ("CPU", "CUDA"):
            try:
                lib.impl("pixel_shuffle", _logged_pixel_shuffle, key)
                lib.impl("pixel_unshuffle", _logged_pixel_unshuffle, key)
            except Exception:
                pass
    return lib


def traced_call(fn, *args):
    """Run fn(*args); return (result, aten ops seen, whether any einops code ran)."""
    einops_ran = False
    logged = len(_TORCH_SHUFFLE_LOG)

    def profiler(frame, event, arg):
        nonlocal einops_ran
        if event == "call" and frame.f_globals.get("__name__", "").startswith("einops"):
            einops_ran = True

    recorder = _OpRecorder()
    sys.setprofile(profiler)
    try:
        with recorder:
            result = fn(*args)
    finally:
        still_ours = sys.getprofile() is profiler
        sys.setprofile(None)
    ops = recorder.ops | set(_TORCH_SHUFFLE_LOG[logged:])
    if len(_TORCH_SHUFFLE_LOG) < logged or not still_ours:
        raise StudentError("the submission tampered with the grader's instrumentation (sys.setprofile or the "
                           "torch call log); this case is not graded")
    return result, sorted(ops), einops_ran


# ---------------------------------------------------------------- helpers
def load(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save(name: str, tensor: torch.Tensor) -> str:
    path = os.path.join("out", name + ".npy")
    np.save(path, tensor.detach().to("cpu").contiguous().numpy(), allow_pickle=False)
    return path


def as_tensor(value, what: str) -> torch.Tensor:
    if type(value) is not torch.Tensor:   # exact type: subclasses can lie about comparisons
        raise StudentError(f"{what} returned {type(value).__name__}, expected a torch.Tensor")
    return value


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


def build(cls, *args, device: str, max_params: int | None, what: str):
    try:
        model = cls(*args)
    except NotImplementedError:
        raise StudentError(f"{what} raises NotImplementedError: it is still the stub") from None
    if not isinstance(model, torch.nn.Module):
        raise StudentError(f"{what} is a {type(model).__name__}, expected a torch.nn.Module")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if max_params is not None and trainable > max_params:
        raise StudentError(f"{what} has {trainable:,} trainable parameters; the budget is {max_params:,}. "
                           f"Use fewer or narrower layers.")
    return model.to(device), trainable


# ---------------------------------------------------------------- optimizers: torch.optim's arithmetic, written out
# torch.optim's first call imports torch._dynamo: +150 MB of RSS and +1.9 s in every training worker (torch 2.14),
# which alone puts a worker over its 700 MB budget. These do the same float operations, in the same order, as
# torch's CPU path (Adam/AdamW `_single_tensor_adam`, SGD, OneCycleLR, CosineAnnealingLR), so training is
# unchanged: tests/test_optim.py checks every weight equals torch.optim's, bit for bit, after real training.
class _Optimizer:
    """What the training loops use of an optimizer; `lr` and `momentum` are what a schedule sets."""

    def __init__(self, params, lr, momentum):
        self.params, self.lr, self.momentum, self.state = list(params), lr, momentum, {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class Adam(_Optimizer):
    """torch.optim.Adam (weight_decay 0) or, with decoupled_weight_decay=0.01, torch.optim.AdamW's defaults."""

    def __init__(self, params, lr, decoupled_weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr, momentum=betas[0])
        self.beta2, self.eps, self.weight_decay = betas[1], eps, decoupled_weight_decay

    @torch.no_grad()
    def step(self):
        lr, beta1, beta2 = self.lr, self.momentum, self.beta2
        for p in self.params:
            if p.grad is None:
                continue
            if p not in self.state:
                self.state[p] = [0, torch.zeros_like(p), torch.zeros_like(p)]
            state = self.state[p]
            state[0] += 1
            step, exp_avg, exp_avg_sq = float(state[0]), state[1], state[2]
            if self.weight_decay:
                p.mul_(1 - lr * self.weight_decay)
            exp_avg.lerp_(p.grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            step_size = lr / (1 - beta1 ** step)
            denom = (exp_avg_sq.sqrt() / (1 - beta2 ** step) ** 0.5).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


class SGD(_Optimizer):
    """torch.optim.SGD: plain steps, or heavy-ball momentum once a schedule sets `momentum` (one-cycle does)."""

    def __init__(self, params, lr):
        super().__init__(params, lr, momentum=0.0)

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            grad = p.grad
            if self.momentum:
                if p in self.state:
                    grad = self.state[p].mul_(self.momentum).add_(grad)
                else:
                    grad = self.state[p] = torch.clone(grad).detach()
            p.add_(grad, alpha=-self.lr)


def make_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return SGD(params, lr)
    return Adam(params, lr, decoupled_weight_decay=0.01 if name == "adamw" else 0.0)


class OneCycle:
    """torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps, pct_start) with its defaults (cosine annealing,
    lr from lr/25 up to lr and down to lr/25e4, momentum cycled 0.95 -> 0.85 -> 0.95)."""

    def __init__(self, optimizer, max_lr, total_steps, pct_start):
        initial = max_lr / 25.0
        self.phases = [(float(pct_start * total_steps) - 1, initial, max_lr, 0.95, 0.85),
                       (total_steps - 1, max_lr, initial / 1e4, 0.85, 0.95)]
        self.optimizer, self.epoch = optimizer, -1
        self.step()

    @staticmethod
    def anneal(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def step(self):
        self.epoch += 1
        start_step = 0.0
        for i, (end_step, lr0, lr1, m0, m1) in enumerate(self.phases):
            if self.epoch <= end_step or i == len(self.phases) - 1:
                pct = (self.epoch - start_step) / (end_step - start_step)
                self.optimizer.lr, self.optimizer.momentum = self.anneal(lr0, lr1, pct), self.anneal(m0, m1, pct)
                return
            start_step = end_step


class Cosine:
    """torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps), eta_min 0: torch's recursive form (its
    restart branch starts at step T_max + 1, which a run of T_max steps never reaches)."""

    def __init__(self, optimizer, total_steps):
        self.optimizer, self.total, self.epoch = optimizer, total_steps, 0

    def step(self):
        self.epoch += 1
        e, t = self.epoch, self.total
        self.optimizer.lr *= (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))


def make_schedule(name: str, optimizer, lr: float, steps: int):
    if name == "onecycle":
        return OneCycle(optimizer, lr, total_steps=steps, pct_start=0.15)
    if name == "cosine":
        return Cosine(optimizer, steps)
    return None


# ---------------------------------------------------------------- training loops (measured by bench/)
def train_classifier(model, images, labels, *, steps, batch_size, lr, optimizer="adamw", seed=0,
                     device="cpu", progress=lambda step: None):
    """MNIST: uint8 images (N,28,28) held as one tensor (4x less memory than float), each batch sliced by a
    seeded permutation and normalized as torchvision's ToTensor + Normalize would."""
    x, y = images.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(seed)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    model.train()
    order, pos, losses = torch.randperm(len(x), generator=generator), 0, []
    for step in range(steps):
        if pos + batch_size > len(x):
            order, pos = torch.randperm(len(x), generator=generator), 0
        idx = order[pos:pos + batch_size].to(device)
        pos += batch_size
        logits = first_output(model(normalize_mnist(x[idx])), "CNN.forward")
        loss = F.cross_entropy(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            losses.append([step, check_loss(loss, step)])
            progress(step + 1)
    return losses


def train_super_resolution(model, lr_images, hr_images, *, r, steps, batch_size, patch, lr, optimizer="adam",
                           schedule="none", seed=0, device="cpu", progress=lambda step: None):
    """SR: LR/HR crops held as tensors; each step takes aligned random patches (patch=0: whole crops)."""
    lr_images, hr_images = lr_images.to(device), hr_images.to(device)
    generator = torch.Generator().manual_seed(seed)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    sched = make_schedule(schedule, opt, lr, steps)
    n, side = lr_images.shape[0], lr_images.shape[-1]
    patch = patch or side
    model.train()
    losses = []
    for step in range(steps):
        idx = torch.randint(0, n, (batch_size,), generator=generator)
        if patch == side:
            x, y = lr_images[idx], hr_images[idx]
        else:
            i, j = (torch.randint(0, side - patch + 1, (batch_size,), generator=generator) for _ in range(2))
            rows = (i[:, None] + torch.arange(patch))[:, :, None]
            cols = (j[:, None] + torch.arange(patch))[:, None, :]
            hrows = (i[:, None] * r + torch.arange(patch * r))[:, :, None]
            hcols = (j[:, None] * r + torch.arange(patch * r))[:, None, :]
            b = idx[:, None, None].to(device)
            x = lr_images[:, 0][b, rows.to(device), cols.to(device)].unsqueeze(1)
            y = hr_images[:, 0][b, hrows.to(device), hcols.to(device)].unsqueeze(1)
        out = as_tensor(model(x), "Net.forward")
        if out.shape != y.shape:
            raise StudentError(f"Net({r}) turned a {tuple(x.shape)} input into {tuple(out.shape)}, "
                               f"expected {tuple(y.shape)}")
        loss = F.mse_loss(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        if step % 25 == 0 or step == steps - 1:
            losses.append([step, check_loss(loss, step)])
            progress(step + 1)
    return losses


def normalize_mnist(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() / 255 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def first_output(out, what):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise StudentError(f"{what} must return (logits, embedding), got {describe(out)}")
    return as_tensor(out[0], what + " (logits)")


def check_loss(loss, step) -> float:
    value = loss.item()
    if not math.isfinite(value):
        raise StudentError(f"the training loss became {value} at step {step}: check for division by zero, "
                           f"log of 0, or an exploding output")
    return round(value, 5)


def describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} ({', '.join(describe(v) for v in value[:3])})"
    return f"a {type(value).__name__}"


@torch.no_grad()
def predict(model, inputs: torch.Tensor, batch: int, fn, device: str, prepare=lambda x: x) -> torch.Tensor:
    model.eval()
    return torch.cat([fn(model(prepare(inputs[k:k + batch].to(device)))).cpu()
                      for k in range(0, len(inputs), batch)])


# ---------------------------------------------------------------- tasks
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
    model, trainable = build(student_attr("model", "CNN"), device="cpu", max_params=None, what="CNN()")
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(load(req["input"])))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return {"shape_error": f"CNN.forward must return (logits, embedding), got {describe(out)}",
                "trainable": trainable}
    logits, embedding = as_tensor(out[0], "CNN.forward (logits)"), as_tensor(out[1], "CNN.forward (embedding)")
    return {"logits": save("cnn_logits", logits), "embedding": save("cnn_embedding", embedding),
            "trainable": trainable}


def task_cnn_train(req, progress):
    device = req["device"]
    model, trainable = build(student_attr("model", "CNN"), device=device, max_params=req["max_params"],
                             what="CNN()")
    eval_x = torch.from_numpy(load(req["eval_x"]))
    argmax = lambda out: first_output(out, "CNN.forward").argmax(1)
    before = predict(model, eval_x[:req["pretrain_eval"]], MNIST_EVAL_BATCH, argmax, device, normalize_mnist)
    losses = train_classifier(model, torch.from_numpy(load(req["train_x"])), torch.from_numpy(load(req["train_y"])),
                              steps=req["steps"], batch_size=req["batch_size"], lr=req["lr"],
                              optimizer=req["optimizer"], seed=req["seed"], device=device, progress=progress)
    after = predict(model, eval_x, MNIST_EVAL_BATCH, argmax, device, normalize_mnist)
    return {"predictions": save("cnn_predictions", after), "pretrain_predictions": save("cnn_pretrain", before),
            "losses": losses, "trainable": trainable}


def task_sr_interface(req, progress):
    cls, results = student_attr("model", "Net"), {}
    x = torch.from_numpy(load(req["input"]))
    for r in req["factors"]:
        try:
            model, trainable = build(cls, r, device="cpu", max_params=None, what=f"Net({r})")
            model.eval()
            with torch.no_grad():
                out = as_tensor(model(x), f"Net({r}).forward")
            results[str(r)] = {"output": save(f"sr_{r}", out), "trainable": trainable}
        except StudentError as exc:
            results[str(r)] = {"error": str(exc)}
        except Exception as exc:
            results[str(r)] = {"error": f"Net({r}) raised {type(exc).__name__}: {exc}\n{short_traceback()}".rstrip()}
    return {"factors": results}


def task_sr_train(req, progress):
    device, r = req["device"], req["upscale_factor"]
    model, trainable = build(student_attr("model", "Net"), r, device=device, max_params=req["max_params"],
                             what=f"Net({r})")
    test_lr = torch.from_numpy(load(req["test_lr"]))
    as_output = lambda out: as_tensor(out, f"Net({r}).forward")
    before = predict(model, test_lr[:req["pretrain_eval"]], 4, as_output, device)
    losses = train_super_resolution(model, torch.from_numpy(load(req["train_lr"])),
                                    torch.from_numpy(load(req["train_hr"])), r=r, steps=req["steps"],
                                    batch_size=req["batch_size"], patch=req["patch"], lr=req["lr"],
                                    optimizer=req["optimizer"], schedule=req["schedule"], seed=req["seed"],
                                    device=device, progress=progress)
    after = predict(model, test_lr, 4, as_output, device)
    return {"outputs": save("sr_outputs", after.float()), "pretrain_outputs": save("sr_pretrain", before.float()),
            "losses": losses, "trainable": trainable}


TASKS = {"shuffle": task_shuffle, "cnn_interface": task_cnn_interface, "cnn_train": task_cnn_train,
         "sr_interface": task_sr_interface, "sr_train": task_sr_train}


def explain(exc: BaseException, device: str) -> str:
    """An exception from student code, in a student's terms."""
    if isinstance(exc, StudentError):
        return str(exc)
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


def _guarded() -> dict:
    """What student code must not replace in the worker: its functions, and what sends the replies."""
    guarded = {name: value for name, value in globals().items()
               if callable(value) and getattr(value, "__module__", None) == __name__}
    guarded.update({"json.dumps": json.dumps, "json.JSONEncoder.encode": json.JSONEncoder.encode,
                    "json.JSONEncoder.iterencode": json.JSONEncoder.iterencode,
                    "json.encoder.c_make_encoder": json.encoder.c_make_encoder,
                    "json.encoder.encode_basestring_ascii": json.encoder.encode_basestring_ascii,
                    "np.save": np.save, "sys.setprofile": sys.setprofile,
                    "TorchDispatchMode.__enter__": TorchDispatchMode.__enter__,
                    "_OpRecorder.__torch_dispatch__": _OpRecorder.__dict__.get("__torch_dispatch__")})
    return guarded


def _tampered(snapshot: dict) -> list[str]:
    """Names in the snapshot that no longer are what they were (using the snapshot's own _guarded)."""
    current = snapshot["_guarded"]()
    return sorted(name for name, value in snapshot.items() if current.get(name) is not value)


def configure_torch(threads: int) -> None:
    """Threads and determinism, as recorded in the report."""
    torch.set_num_threads(threads)
    # = torch.use_deterministic_algorithms(True, warn_only=True), minus its import of torch._inductor (+150 MB)
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def main() -> None:
    # The reply channel: moved off the fd number named in argv, which is then forgotten. Student code can
    # still find it (/proc/self/fd), so every reply also carries the token the grader sends first on stdin,
    # before any student code is imported; a reply without it is rejected as forged.
    reply_fd = int(sys.argv[1])
    moved = os.dup(reply_fd)
    os.close(reply_fd)
    del sys.argv[1:]
    replies = os.fdopen(moved, "w", buffering=1)
    first = json.loads(sys.stdin.readline() or "{}")
    token = first.get("token", "")
    sys.path.insert(0, os.path.abspath("submission"))
    os.makedirs("out", exist_ok=True)
    configure_torch(int(os.environ.get("GRADER_THREADS", "2")))
    shuffle_log = _install_shuffle_log()  # noqa: F841  (kept alive: the kernels live as long as it does)
    snapshot, log_list = _guarded(), _TORCH_SHUFFLE_LOG
    probe_ops = (torch.ops.aten.pixel_shuffle.default, torch.ops.aten.pixel_unshuffle.default)
    dumps = json.dumps

    def log_works(ops) -> bool:
        """Are torch's shuffle kernels still the logging ones? (A submission could unregister them.)"""
        before = len(log_list)
        try:
            ops[0](torch.zeros(1, 4, 1, 1), 2)
            ops[1](torch.zeros(1, 1, 2, 2), 2)
        except Exception:
            return False
        works = len(log_list) == before + 2
        del log_list[before:]
        return works

    def send(message):
        replies.write(dumps({**message, "token": token}) + "\n")

    send({"ready": True})   # imports done; no student code has run yet
    for line in sys.stdin:
        req = json.loads(line)
        torch.manual_seed(req.get("seed", 0))
        last = [0.0]

        def progress(done, _id=req["id"], _total=req.get("steps") or len(req.get("cases", [])) or 1):
            if time.monotonic() - last[0] > 0.5:
                last[0] = time.monotonic()
                send({"id": _id, "progress": [done, _total]})

        try:
            result = TASKS[req["task"]](req, progress)
            reply = {"id": req["id"], "ok": True, "result": result}
        except BaseException as exc:  # SystemExit from student code too: report it, keep serving
            if isinstance(exc, KeyboardInterrupt):
                raise
            message = (f"the submission called exit({exc.code})" if isinstance(exc, SystemExit)
                       else explain(exc, req.get("device", "cpu")))
            reply = {"id": req["id"], "ok": False, "error": message}
        tampered = _tampered(snapshot)
        if _TORCH_SHUFFLE_LOG is not log_list or not log_works(probe_ops):
            tampered.append("the torch pixel_shuffle call log")
        if tampered:
            reply = {"id": req["id"], "ok": False,
                     "error": f"the submission replaced parts of the grader's worker ({', '.join(tampered[:5])}); "
                              f"nothing it returned is trusted"}
        send(reply)


if __name__ == "__main__":
    main()
