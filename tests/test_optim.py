"""The worker's optimizers and schedules against torch.optim's: the same weights, bit for bit, after training;
and the worker never paying for torch._dynamo.

grader/worker/optim.py writes out torch.optim's arithmetic because torch.optim's first call imports torch._dynamo
(+150 MB RSS and +1.9 s per worker). That is only allowed if grading is unchanged, so every optimizer and
schedule grading.yaml accepts trains the reference models here twice, from the same seed on the same real
batches, once with torch.optim and once with the worker's code, and every parameter must be equal.
"""
from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys

import pytest
import torch

from grader.worker import optim, training
from grader.config import REPO_ROOT, TRAIN_CHOICES
from conftest import DATA


def reference_model():
    """reference/model.py as a module (it imports its own pixel_shuffle.py), leaving sys.modules as it was."""
    sys.path.insert(0, str(REPO_ROOT / "reference"))
    try:
        spec = importlib.util.spec_from_file_location("reference_model_under_test", REPO_ROOT / "reference" / "model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.pop(0)
        sys.modules.pop("pixel_shuffle", None)


ref = reference_model()


def torch_optimizer(name, params, lr):
    return {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[name](params, lr=lr)


def torch_schedule(name, optimizer, lr, steps):
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.15)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    return None


def train_both(monkeypatch, make_model, train):
    """Train make_model() with the worker's optimizers, then again with torch.optim's; check the weights."""
    models = []
    for use_torch in (False, True):
        if use_torch:
            monkeypatch.setattr(optim, "make_optimizer", torch_optimizer)
            monkeypatch.setattr(optim, "make_schedule", torch_schedule)
        torch.manual_seed(0)
        model = make_model()
        initial = [p.detach().clone() for p in model.parameters()]
        train(model)
        models.append(model)
    ours, theirs = models
    assert not all(torch.equal(p, q) for p, q in zip(theirs.parameters(), initial)), "training changed nothing"
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert torch.equal(a, b), f"{name} differs from torch.optim's by up to {(a - b).abs().max().item():.3g}"


@pytest.fixture(scope="module")
def mnist():
    data = DATA.mnist()
    return torch.from_numpy(data.train_x[:4096].copy()), torch.from_numpy(data.train_y[:4096].copy())


@pytest.mark.parametrize("optimizer,schedule", list(itertools.product(TRAIN_CHOICES["optimizer"],
                                                                      TRAIN_CHOICES["schedule"])))
def test_cnn_training_equals_torch_optim(monkeypatch, mnist, optimizer, schedule):
    lr = 0.01 if optimizer == "sgd" else 1e-3

    def train(model):
        x, y = mnist
        opt = optim.make_optimizer(optimizer, model.parameters(), lr)
        sched = optim.make_schedule(schedule, opt, lr, 30)
        for step in range(30):
            batch = slice(64 * step, 64 * step + 64)
            loss = torch.nn.functional.cross_entropy(model(training.normalize_mnist(x[batch]))[0], y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched:
                sched.step()

    train_both(monkeypatch, ref.CNN, train)


def test_harness_classifier_loop_equals_torch_optim(monkeypatch, mnist):
    """The grading loop itself (train_classifier, the quick profile's AdamW) with either optimizer."""
    train = lambda model: training.train_classifier(model, *mnist, steps=40, batch_size=64, lr=1e-3, optimizer="adamw")
    train_both(monkeypatch, ref.CNN, train)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_harness_sr_loop_equals_torch_optim(monkeypatch, profile):
    """train_super_resolution as each profile configures it: Adam with one-cycle (momentum cycled too) on
    32x32 patches, and Adam with cosine annealing on whole crops."""
    bsds = DATA.bsds("train", 2)
    lr_images, hr_images = torch.from_numpy(bsds.lr[:40].copy()), torch.from_numpy(bsds.hr[:40].copy())
    settings = {"quick": dict(steps=20, batch_size=16, patch=32, lr=0.003, schedule="onecycle"),
                "full": dict(steps=6, batch_size=2, patch=0, lr=0.001, schedule="cosine")}[profile]
    train = lambda model: training.train_super_resolution(model, lr_images, hr_images, r=2, optimizer="adam", **settings)
    train_both(monkeypatch, lambda: ref.Net(2), train)


def test_worker_never_imports_dynamo():
    """What the written-out optimizers buy: a worker that traces the shuffle and trains both models never
    loads torch._dynamo or torch._inductor, and still runs with deterministic algorithms on."""
    code = f"""
import sys, torch
sys.path.insert(0, {str(REPO_ROOT / 'grader')!r}); sys.path.insert(0, {str(REPO_ROOT / 'reference')!r})
from worker import tracing, training
import model, pixel_shuffle
training.configure_torch(threads=2)
log = tracing.install_shuffle_log()
x = torch.randn(2, 12, 5, 7, requires_grad=True)
out, ops, einops_ran = tracing.traced_call(pixel_shuffle.PixelShuffle(2), x)
out.sum().backward()
assert einops_ran and "pixel_shuffle" not in ops and x.grad is not None, ops
images = torch.randint(0, 256, (256, 28, 28), dtype=torch.uint8)
training.train_classifier(model.CNN(), images, torch.randint(0, 10, (256,)), steps=3, batch_size=64, lr=1e-3)
hr = torch.rand(4, 1, 64, 64)
training.train_super_resolution(model.Net(2), hr[..., ::2, ::2].contiguous(), hr, r=2, steps=3, batch_size=2,
                                patch=16, lr=1e-3, schedule="onecycle")
print(sorted(m for m in sys.modules if m.startswith(("torch._dynamo", "torch._inductor")))[:3],
      torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[]", "True", "True"], run.stdout
