"""Writes the honest notebooks of this folder: the practical done the ways students do it, with everything a
notebook holds around the graded definitions (installs, Drive, data loading, threads in DataLoaders, training
loops writing files, plots, t-SNE, IPython display). Their extracted code must pass the static check with
no finding (tests/test_notebook_extract.py). Rerun after editing: python tests/notebooks/make_corpus.py"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from notebook_cells import DATA, PLOT, REF_MODEL, REF_SHUFFLE, SETUP, TRAIN, notebook, write  # noqa: E402

COLAB = """from google.colab import drive
drive.mount('/content/drive')
import os, threading, json
os.makedirs('/content/drive/MyDrive/cnn', exist_ok=True)"""

HELPERS_SHUFFLE = '''import torch
from torch import nn
import einops

def _check_factor(r):
    assert isinstance(r, int) and r > 0, "the factor must be a positive int"
    return r

def pixel_shuffle(x, upscale_factor):
    r = _check_factor(upscale_factor)
    return einops.rearrange(x, "... (c r1 r2) h w -> ... c (h r1) (w r2)", r1=r, r2=r)

def pixel_unshuffle(x, downscale_factor):
    r = _check_factor(downscale_factor)
    return einops.rearrange(x, "... c (h r1) (w r2) -> ... (c r1 r2) h w", r1=r, r2=r)

class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return pixel_shuffle(x, self.upscale_factor)'''

TESTS = '''x = torch.arange(16.).reshape(1, 4, 2, 2)
assert torch.equal(pixel_shuffle(x, 2), torch.nn.functional.pixel_shuffle(x, 2))
assert torch.equal(pixel_unshuffle(pixel_shuffle(x, 2), 2), x)
print("shuffle ok")'''

HELPERS_MODEL = '''CHANNELS = (16, 32)
KERNEL = 5
N_CLASSES = 10

def conv_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, KERNEL, padding=KERNEL // 2), nn.ReLU(), nn.MaxPool2d(2))

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_block(1, CHANNELS[0]), conv_block(*CHANNELS))
        self.out = nn.Linear(CHANNELS[1] * 7 * 7, N_CLASSES)

    def forward(self, x):
        embedding = self.features(x).flatten(1)
        return self.out(embedding), embedding

class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(), nn.Conv2d(64, 32, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(32, upscale_factor ** 2, 3, padding=1))
        self.shuffle = PixelShuffle(upscale_factor)

    def forward(self, x):
        return self.shuffle(self.body(x))'''

LOG = '''%%time
history = []
def log(epoch, loss):
    history.append((epoch, loss))
    with open("/content/drive/MyDrive/cnn/log.json", "w") as f:
        json.dump(history, f)
saver = threading.Thread(target=lambda: torch.save(model.state_dict(), "model.pt"))
saver.start(); saver.join()'''

DISPLAY = '''from sklearn.metrics import confusion_matrix, ConfusionMatrixDisplay
from IPython.display import display, HTML, clear_output
import pandas as pd
cm = confusion_matrix(labels, predictions)
ConfusionMatrixDisplay(cm).plot()
display(HTML("<b>accuracy</b>"))
pd.DataFrame(history).plot()'''

SELF_TEST = '''if __name__ == "__main__":
    import subprocess
    subprocess.run(["nvidia-smi"])
    print(CNN()(torch.zeros(1, 1, 28, 28))[0].shape)'''

CORPUS = {
    "reference_among_cells.ipynb": (SETUP, REF_SHUFFLE, DATA, REF_MODEL, TRAIN, PLOT),
    "colab_drive_threads.ipynb": (COLAB, SETUP, HELPERS_SHUFFLE, TESTS, DATA, REF_MODEL, TRAIN, LOG, PLOT),
    "helpers_and_constants.ipynb": ("import torch\nfrom torch import nn", HELPERS_SHUFFLE, HELPERS_MODEL, TESTS,
                                    DATA, TRAIN, DISPLAY),
    "self_tests_and_plots.ipynb": (SETUP, REF_SHUFFLE, TESTS, "from torch import nn\n" + REF_MODEL, SELF_TEST,
                                   DATA, TRAIN, PLOT, DISPLAY, "print(open('cnn.pt', 'rb').read()[:10])"),
}

if __name__ == "__main__":
    for name, cells in CORPUS.items():
        write(notebook(*cells), HERE / name)
        print(HERE / name)
