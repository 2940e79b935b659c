"""Grade on small slices of the real data so ~40 red-team gradings fit in a few minutes on 2 cores.

`install()` swaps grader.data.load_mnist / load_bsds for versions returning the first N images of each
split (the real files, verified as usual) and returns a function that puts the full loaders back. Used
in-process by test_redteam.py (restored when its module ends, so later test files see all the data) and by
subset_cli.py for `python -m grader grade` runs in a subprocess.
"""
from __future__ import annotations

import dataclasses
import functools

MNIST_TRAIN, MNIST_TEST, BSDS_TRAIN, BSDS_TEST = 4000, 1000, 8, 6


def install():
    from grader import data
    full_mnist, full_bsds = data.load_mnist, data.load_bsds
    if getattr(full_mnist, "redteam_subset", False):
        raise RuntimeError("the red-team data subset is already installed")

    @functools.lru_cache(maxsize=1)
    def load_mnist(root=None):
        m = full_mnist(root)
        return dataclasses.replace(m, train_x=m.train_x[:MNIST_TRAIN], train_y=m.train_y[:MNIST_TRAIN],
                                   test_x=m.test_x[:MNIST_TEST], test_y=m.test_y[:MNIST_TEST])

    @functools.lru_cache(maxsize=4)
    def load_bsds(split, upscale_factor, root=None):
        s = full_bsds(split, upscale_factor, root)
        n = BSDS_TRAIN if split == "train" else BSDS_TEST
        return dataclasses.replace(s, lr=s.lr[:n], hr=s.hr[:n], names=s.names[:n],
                                   bicubic=None if s.bicubic is None else s.bicubic[:n])

    load_mnist.redteam_subset = True
    data.load_mnist, data.load_bsds = load_mnist, load_bsds

    def restore():
        data.load_mnist, data.load_bsds = full_mnist, full_bsds
    return restore
