"""torch.optim's arithmetic, written out: Adam/AdamW, SGD, and the OneCycle and Cosine schedules.

torch.optim's first call imports torch._dynamo: +150 MB of RSS and +1.9 s in every training worker (torch 2.14),
which alone puts a worker over its 700 MB budget. These do the same float operations, in the same order, as
torch's CPU path (Adam/AdamW `_single_tensor_adam`, SGD, OneCycleLR, CosineAnnealingLR), so training is
unchanged: tests/test_optim.py checks every weight equals torch.optim's, bit for bit, after real training.
"""
from __future__ import annotations

import math

import torch


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
