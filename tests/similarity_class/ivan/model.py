"""MNIST classifier + super resolution network (my solution)."""
import torch
import torch.nn.functional as F
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        # convolution layers
        self.layer_a = nn.Conv2d(1, 16, kernel_size=5, padding=2)
        self.layer_b = nn.Conv2d(16, 32, kernel_size=5, padding=2)
        self.head = nn.Linear(32 * 7 * 7, 10)

    def forward(self, img: torch.Tensor):
        h = F.max_pool2d(F.relu(self.layer_a(img)), 2)   # half size
        h = F.max_pool2d(F.relu(self.layer_b(h)), 2)     # half again
        emb = torch.flatten(h, start_dim=1)
        return self.head(emb), emb


class Net(nn.Module):
    """Efficient sub-pixel CNN."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.act = nn.ReLU()
        self.first = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.second = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.third = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.last = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.shuffle = PixelShuffle(upscale_factor)
        self._init()

    def _init(self):
        nn.init.orthogonal_(self.first.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.second.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.third.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.last.weight)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        img = self.act(self.first(img))
        img = self.act(self.second(img))
        img = self.act(self.third(img))
        img = self.shuffle(self.last(img))
        return img
