import torch
from torch import nn

from pixel_shuffle import PixelShuffle


class CNN(nn.Module):
    """conv(5x5,16)-relu-pool, conv(5x5,32)-relu-pool, linear."""

    def __init__(self):
        super().__init__()
        self.first_conv = nn.Conv2d(in_channels=1, out_channels=16, kernel_size=5, padding="same")
        self.second_conv = nn.Conv2d(in_channels=16, out_channels=32, kernel_size=5, padding="same")
        self.linear = nn.Linear(in_features=32 * 7 * 7, out_features=10)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, images):
        out = self.pool(self.relu(self.first_conv(images)))
        out = self.pool(self.relu(self.second_conv(out)))
        embedding = out.reshape(out.shape[0], -1)
        logits = self.linear(embedding)
        return logits, embedding


class Net(nn.Module):
    """ESPCN: three feature convs then a sub-pixel conv."""

    def __init__(self, upscale_factor):
        super().__init__()
        r = upscale_factor
        self.c1 = nn.Conv2d(in_channels=1, out_channels=64, kernel_size=5, padding="same")
        self.c2 = nn.Conv2d(in_channels=64, out_channels=64, kernel_size=3, padding="same")
        self.c3 = nn.Conv2d(in_channels=64, out_channels=32, kernel_size=3, padding="same")
        self.c4 = nn.Conv2d(in_channels=32, out_channels=r * r, kernel_size=3, padding="same")
        self.upsample = PixelShuffle(r)

    def forward(self, images):
        out = torch.relu(self.c1(images))
        out = torch.relu(self.c2(out))
        out = torch.relu(self.c3(out))
        return self.upsample(self.c4(out))
