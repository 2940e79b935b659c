"""Notebooks for the tests, written with nbformat the way Jupyter saves them: the reference code pasted into
cells among the cells a student's notebook holds (installs, imports, data loading, training, plots)."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from conftest import REFERENCE

REF_SHUFFLE = (REFERENCE / "pixel_shuffle.py").read_text()
# In a notebook PixelShuffle is a cell above, not a file to import
REF_MODEL = (REFERENCE / "model.py").read_text().replace("from pixel_shuffle import PixelShuffle\n", "")
assert "import" in REF_MODEL and "PixelShuffle(" in REF_MODEL

SETUP = """!pip install -q einops
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm
from sklearn.manifold import TSNE
from IPython.display import display, Image
import torch
import torchvision"""

DATA = """train_set = torchvision.datasets.MNIST("data", train=True, download=True,
                                       transform=torchvision.transforms.ToTensor())
loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True, num_workers=2)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")"""

TRAIN = """model = CNN().to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in tqdm(range(2)):
    for x, y in loader:
        logits, embedding = model(x.to(device))
        loss = torch.nn.functional.cross_entropy(logits, y.to(device))
        opt.zero_grad(); loss.backward(); opt.step()
torch.save(model.state_dict(), "cnn.pt")"""

PLOT = """x = torch.randn(1, 8, 3, 3)
plt.imshow(pixel_shuffle(x, 2)[0, 0])
points = TSNE(2).fit_transform(embedding.detach().cpu().numpy())
plt.scatter(points[:, 0], points[:, 1]); plt.show()"""


def notebook(*cells: str, markdown_first: bool = True) -> nbformat.NotebookNode:
    """A v4 notebook of these code cells (a title cell first, as students' notebooks start)."""
    nb = new_notebook(cells=[new_markdown_cell("# Intro to CNNs in PyTorch")] if markdown_first else [])
    nb.cells += [new_code_cell(text, outputs=[new_output("stream", text="ok\n")]) for text in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def reference_notebook() -> nbformat.NotebookNode:
    """The reference code among setup, training and plot cells: cell 3 pixel_shuffle, cell 5 the models."""
    return notebook(SETUP, REF_SHUFFLE, DATA, REF_MODEL, TRAIN, PLOT)


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
