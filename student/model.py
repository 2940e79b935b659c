"""Parts 1 and 2: the MNIST CNN and the ESPCN super-resolution Net.

The grader trains your models itself (its own loop, optimizer and fixed number of steps from
grading.yaml), so only the architecture is yours. Keep tensors on the input's device (no `.cuda()`).
"""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle  # noqa: F401  (your einops version, for Net)


class CNN(nn.Module):
    """MNIST classifier. forward(x: (B, 1, 28, 28)) -> (logits (B, 10), embedding (B, D)).

    The practical's design: two conv 5x5 blocks (16 then 32 channels) each with ReLU and MaxPool(2),
    flatten to the embedding (B, 32*7*7), then Linear(32*7*7, 10) to the logits.
    Graded: shapes and types of both outputs, then test accuracy after a fixed training budget.
    """

    def __init__(self):
        super().__init__()
        raise NotImplementedError("CNN.__init__: build the layers")

    def forward(self, x: torch.Tensor):
        raise NotImplementedError("CNN.forward: return (logits, embedding)")


class Net(nn.Module):
    """ESPCN super-resolution on the Y channel. forward(x: (B, 1, H, W)) -> (B, 1, H*r, W*r), values ~[0, 1].

    The practical's design: conv 5x5 -> 64, conv 3x3 -> 64, conv 3x3 -> 32 (ReLU after each), conv 3x3 ->
    r*r channels, then PixelShuffle(r). Paddings 2, 1, 1, 1 keep H and W.
    Graded: output shapes for r = 2, 3, 4 on non-square inputs, then PSNR on BSDS300 after fixed training.
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        raise NotImplementedError("Net.__init__: build the layers")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("Net.forward")
