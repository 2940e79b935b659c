"""RED TEAM (class 4): a 2.5 M-parameter model (budget 1 M) frozen at construction, so only a small part
counts as trainable when the model is built, and unfrozen by its first training step: the optimizer was given
every parameter, so all of it trains."""
import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(28 * 28, 3200)
        self.out = nn.Linear(3200, 10)
        self.hidden.requires_grad_(False)

    def forward(self, x: torch.Tensor):
        if self.training and not self.hidden.weight.requires_grad:
            self.hidden.requires_grad_(True)
        embedding = torch.relu(self.hidden(x.flatten(1)))
        return self.out(embedding), embedding


class Net(nn.Module):
    """ESPCN on the Y channel: conv 5x5*64, 3x3*64, 3x3*32, 3x3*r^2, then pixel shuffle."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, 3, padding=1)
        self.pixel_shuffle = PixelShuffle(upscale_factor)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.orthogonal_(conv.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.conv4.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))
