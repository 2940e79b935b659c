"""Real behaviour fingerprints of a submission without a whole grade (a few seconds instead of ~40 s).

Trains the submission's CNN and Net in this process with the grader's own training loops and seeds
(grader/worker/: torch.manual_seed(seed) before each model is built, `train_classifier`,
`train_super_resolution`, `predict`), on the real MNIST and BSDS300 data, for a small number of steps, and
fingerprints its outputs with grader/fingerprint.py as grader/checks/ does, but on the first
`mnist_images` MNIST and `sr_images` BSDS300 test images only (predicting all of them is most of the cost).
Only for the test suite's own submissions: this runs their code in the test process.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from conftest import DATA
from grader import fingerprint
from grader.worker import training


def load_submission(folder: Path, tag: str):
    """folder/model.py as a module (with its own pixel_shuffle.py), leaving sys.modules as it was."""
    saved = sys.modules.pop("pixel_shuffle", None)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"submission_model_{tag}", folder / "model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("pixel_shuffle", None)
        if saved is not None:
            sys.modules["pixel_shuffle"] = saved


def fingerprints(folder: Path, mnist_steps: int = 15, sr_steps: int = 3, mnist_images: int = 2000,
                 sr_images: int = 4, seed: int = 0) -> dict[str, str]:
    """{"mnist": ..., "sr": ...} for the submission in `folder`, trained as the grader trains it."""
    module = load_submission(folder, folder.name)
    torch.set_num_threads(2)
    mnist = DATA.mnist()
    torch.manual_seed(seed)
    cnn = module.CNN()
    training.train_classifier(cnn, torch.from_numpy(mnist.train_x.copy()), torch.from_numpy(mnist.train_y.copy()),
                            steps=mnist_steps, batch_size=64, lr=1e-3, optimizer="adamw", seed=seed)
    argmax = lambda out: out[0].argmax(1)
    labels = training.predict(cnn, torch.from_numpy(mnist.test_x[:mnist_images].copy()), 500, argmax, "cpu",
                            training.normalize_mnist)
    train, test = DATA.bsds("train", 2), DATA.bsds("test", 2)
    torch.manual_seed(seed)
    net = module.Net(2)
    training.train_super_resolution(net, torch.from_numpy(train.lr.copy()), torch.from_numpy(train.hr.copy()), r=2,
                                  steps=sr_steps, batch_size=16, patch=32, lr=3e-3, optimizer="adam",
                                  schedule="onecycle", seed=seed)
    outputs = training.predict(net, torch.from_numpy(test.lr[:sr_images].copy()), 4, lambda y: y, "cpu")
    return {"mnist": fingerprint.mnist(labels.numpy(), mnist.test_y[:mnist_images]),
            "sr": fingerprint.sr(outputs.float().numpy())}
