"""MNIST training speed, three loops side by side in one process, same model, steps and seed:
  (a) the harness's loop (grader/worker/training.py `train_classifier`, the code that grades students),
  (b) the practical's loop: torchvision.datasets.MNIST + ToTensor + Normalize + DataLoader,
  (c) a bare loop slicing a pre-normalized tensor with a seeded permutation, with the harness's AdamW
      (grader/worker/optim.py writes out torch.optim's arithmetic), and again with torch.optim.AdamW (c').
Prints steps/s and the ratios, each the median over interleaved rounds: a/b (target >= 1.6), a/c (target
>= 0.95), and c'/c, what the optimizer alone changes (the practical's loop (b) uses torch.optim, as it does).

    GRADER_DATA_DIR=../shared/datasets python bench/train_bench.py [--steps 400] [--repeats 5]
"""
import argparse
import gzip
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from grader.data import Datasets  # noqa: E402
from grader.paths import MNIST_FILES, DataPaths, mnist_raw  # noqa: E402

PATHS = DataPaths.from_environment()


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(ROOT / "reference"))
from grader.worker import optim as worker_optim, training as worker_training  # noqa: E402
CNN = load("reference_model", ROOT / "reference" / "model.py").CNN


def practical_dataset(folder: Path) -> datasets.MNIST:
    """torchvision.datasets.MNIST with the practical's ToTensor + Normalize (a PIL image per item), over the real
    files: decompressed into folder/MNIST/raw, where it looks for them (download=False: no network here)."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        with gzip.open(mnist_raw(PATHS.data, name)) as src, open(raw / name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    return datasets.MNIST(str(folder), train=True, download=False, transform=transform)


def practical_loop(dataset, steps, seed):
    torch.manual_seed(seed)
    model = CNN()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed))
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


def bare_loop(images, labels, steps, seed, make_optimizer=lambda params: worker_optim.make_optimizer("adamw", params, 1e-3)):
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
        opt.zero_grad()   # set_to_none by default in torch.optim; the worker's optimizers take no argument
        loss.backward()
        opt.step()


def harness_loop(images, labels, steps, seed):
    torch.manual_seed(seed)
    worker_training.train_classifier(CNN(), torch.from_numpy(images), torch.from_numpy(labels), steps=steps,
                                     batch_size=64, lr=1e-3, optimizer="adamw", seed=seed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    mnist = Datasets(PATHS).mnist()
    train_x, train_y = np.array(mnist.train_x), np.array(mnist.train_y)   # in memory, as the worker has them
    torch_adamw = lambda params: torch.optim.AdamW(params, lr=1e-3)
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"harness": partial(harness_loop, train_x, train_y),
                 "practical": partial(practical_loop, practical_dataset(Path(tmp))),
                 "bare": partial(bare_loop, train_x, train_y),
                 "bare (torch.optim)": partial(bare_loop, train_x, train_y, make_optimizer=torch_adamw)}
        times = {name: [] for name in loops}
        for _ in range(args.repeats):          # interleaved rounds: a slow spell of the host hits every loop
            for name, loop in loops.items():
                start = time.perf_counter()
                loop(steps=args.steps, seed=0)
                times[name].append(time.perf_counter() - start)
    for name, seconds in times.items():
        print(f"{name:>18}: best {min(seconds):6.2f} s for {args.steps} steps ({args.steps / min(seconds):6.1f} steps/s)")

    def ratio(slower, faster):   # median over rounds of the per-round ratio: drift between rounds cancels
        return statistics.median(a / b for a, b in zip(times[slower], times[faster]))
    print(f"ratios, median of {args.repeats} rounds:")
    print(f"harness vs practical DataLoader loop: {ratio('practical', 'harness'):.2f}x  (target >= 1.6x)")
    print(f"harness vs bare tensor slicing:       {ratio('bare', 'harness'):.2f}x  (target >= 0.95x)")
    print(f"written-out AdamW vs torch.optim.AdamW (bare loop): {ratio('bare (torch.optim)', 'bare'):.2f}x")

if __name__ == "__main__":
    main()
