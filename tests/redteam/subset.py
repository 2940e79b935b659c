"""Grade on small slices of the real data so ~40 red-team gradings fit in a few minutes on 2 cores.

`SubsetDatasets(paths)` is the graded data (the real files, verified as usual) cut to the first N images of
each split; a grade is given it instead of `Datasets(paths)`, so nothing global changes and later test
files see all the data. subset_cli.py does the same for `python -m grader grade` in a subprocess.
"""
from __future__ import annotations

import dataclasses

from grader.data import Datasets, Mnist, SRSplit

MNIST_TRAIN, MNIST_TEST, BSDS_TRAIN, BSDS_TEST = 4000, 1000, 8, 6


class SubsetDatasets(Datasets):
    def mnist(self) -> Mnist:
        m = super().mnist()
        return dataclasses.replace(m, train_x=m.train_x[:MNIST_TRAIN], train_y=m.train_y[:MNIST_TRAIN],
                                   test_x=m.test_x[:MNIST_TEST], test_y=m.test_y[:MNIST_TEST])

    def bsds(self, split: str, upscale_factor: int) -> SRSplit:
        s = super().bsds(split, upscale_factor)
        n = BSDS_TRAIN if split == "train" else BSDS_TEST
        return dataclasses.replace(s, lr=s.lr[:n], hr=s.hr[:n], names=s.names[:n],
                                   bicubic=None if s.bicubic is None else s.bicubic[:n])
