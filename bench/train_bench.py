"""MNIST training speed, three loops side by side in one process, same model, steps and seed:
  (a) the harness's loop (grader/worker.py `train_classifier`, the code that grades students),
  (b) a loop written like the practical's: torchvision MNIST-style Dataset + ToTensor + Normalize + DataLoader,
  (c) a bare loop slicing a pre-normalized tensor with a seeded permutation, with the harness's AdamW
      (worker.py writes out torch.optim's arithmetic), and again with torch.optim.AdamW (c').
Prints steps/s and the ratios a/b (target >= 1.6) and a/c (target >= 0.95); c'/c shows what the optimizer
alone changes (the practical's loop (b) uses torch.optim, as the practical does).

    GRADER_DATA_DIR=../shared/datasets python bench/train_bench.py [--steps 400] [--repeats 3]
"""
import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from grader.data import load_mnist  # noqa: E402


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(ROOT / "reference"))
worker = load("worker", ROOT / "grader" / "worker.py")
CNN = load("reference_model", ROOT / "reference" / "model.py").CNN


class PracticalMNIST(Dataset):
    """What the practical's torchvision.datasets.MNIST + ToTensor + Normalize does per item (PIL per image)."""

    def __init__(self, images, labels):
        from PIL import Image
        self.images, self.labels, self.Image = images, labels, Image
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def practical_loop(images, labels, steps, seed):
    torch.manual_seed(seed)
    model = CNN()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(PracticalMNIST(images, labels), batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    model.train()
    step = 0
    while step < steps:
        for x, y in loader:
            loss = F.cross_entropy(model(x)[0], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break


def bare_loop(images, labels, steps, seed, make_optimizer=lambda params: worker.make_optimizer("adamw", params, 1e-3)):
    torch.manual_seed(seed)
    model = CNN()
    opt = make_optimizer(model.parameters())
    x = ((torch.from_numpy(images).float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
    y = torch.from_numpy(labels)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    model.train()
    for step in range(steps):
        idx = order[step * 64:(step + 1) * 64]
        loss = F.cross_entropy(model(x[idx])[0], y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def harness_loop(images, labels, steps, seed):
    torch.manual_seed(seed)
    worker.train_classifier(CNN(), torch.from_numpy(images), torch.from_numpy(labels), steps=steps,
                            batch_size=64, lr=1e-3, optimizer="adamw", seed=seed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    mnist = load_mnist()
    train_x, train_y = np.array(mnist.train_x), np.array(mnist.train_y)   # in memory, as the worker has them
    bare_torch_optim = lambda *a, **k: bare_loop(*a, **k, make_optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3))
    loops = {"harness": harness_loop, "practical": practical_loop, "bare": bare_loop, "bare (torch.optim)": bare_torch_optim}
    best = {name: float("inf") for name in loops}
    for _ in range(args.repeats):          # interleaved, best of N: fair under background load
        for name, loop in loops.items():
            start = time.perf_counter()
            loop(train_x, train_y, args.steps, seed=0)
            best[name] = min(best[name], time.perf_counter() - start)
    for name, seconds in best.items():
        print(f"{name:>18}: {seconds:6.2f} s for {args.steps} steps ({args.steps / seconds:6.1f} steps/s)")
    print(f"harness vs practical DataLoader loop: {best['practical'] / best['harness']:.2f}x  (target >= 1.6x)")
    print(f"harness vs bare tensor slicing:       {best['bare'] / best['harness']:.2f}x  (target >= 0.95x)")
    print(f"written-out AdamW vs torch.optim.AdamW (bare loop): {best['bare (torch.optim)'] / best['bare']:.2f}x")


if __name__ == "__main__":
    main()
