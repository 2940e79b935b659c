"""The training loops that grade students (and that bench/ measures), and the evaluation pass after them.

Both draw every batch from a seeded torch.Generator, so a grade is reproducible; `configure_torch` sets the
threads and the deterministic algorithms the report records.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import optim
from .hints import sr_shape_hint
from .student import StudentError, as_tensor, describe
from .torch_compat import use_deterministic_algorithms

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081   # torchvision Normalize values of the practical
MNIST_EVAL_BATCH = 250   # the reference CNN's worker peaks at 652 MB with 250, 773 MB with 1000 (torch 2.14)


def configure_torch(threads: int) -> None:
    """Threads and determinism, as recorded in the report."""
    torch.set_num_threads(threads)
    use_deterministic_algorithms()
    torch.backends.cudnn.benchmark = False


def train_classifier(model, images, labels, *, steps, batch_size, lr, optimizer="adamw", schedule="none", seed=0,
                     device="cpu", progress=lambda step: None):
    """MNIST: uint8 images (N,28,28) held as one tensor (4x less memory than float), each batch sliced by a
    seeded permutation and normalized as torchvision's ToTensor + Normalize would."""
    x, y = images.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(seed)
    opt = optim.make_optimizer(optimizer, model.parameters(), lr)
    sched = optim.make_schedule(schedule, opt, lr, steps)
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
        if sched:
            sched.step()
        if step % 50 == 0 or step == steps - 1:
            losses.append([step, check_loss(loss, step)])
            progress(step + 1)
    return losses


def train_super_resolution(model, lr_images, hr_images, *, r, steps, batch_size, patch, lr, optimizer="adam",
                           schedule="none", seed=0, device="cpu", progress=lambda step: None):
    """SR: LR/HR crops held as tensors; each step takes aligned random patches (patch=0: whole crops)."""
    lr_images, hr_images = lr_images.to(device), hr_images.to(device)
    generator = torch.Generator().manual_seed(seed)
    opt = optim.make_optimizer(optimizer, model.parameters(), lr)
    sched = optim.make_schedule(schedule, opt, lr, steps)
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
                               f"expected {tuple(y.shape)}" + sr_shape_hint(tuple(out.shape), tuple(x.shape), r))
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



@torch.no_grad()
def predict(model, inputs: torch.Tensor, batch: int, fn, device: str, prepare=lambda x: x) -> torch.Tensor:
    model.eval()
    return torch.cat([fn(model(prepare(inputs[k:k + batch].to(device)))).cpu()
                      for k in range(0, len(inputs), batch)])
