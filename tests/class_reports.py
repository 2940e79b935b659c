"""A generated class of reports for page tests: realistic metrics, losses, crops, flags and failures.

Built from report_fixtures (no grading): accuracy and PSNR drawn around the committed quick thresholds, crops
as noise PNGs of the real crops' size (96 x 288, incompressible: an upper bound on page size), every 25th
student without a report, hostile text in a few ids, messages and flags.
"""
from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from grader.config import REPO_ROOT, load_config
from grader.result import ItemResult, Report
from report_fixtures import HOSTILE

LONG_MESSAGE = ("values differ from torch's at 37 of 120 positions; expected vs got: "
                + "(0, 3, 1, 1): 0.25 vs 0.5; " * 40 + "END-OF-MESSAGE")


def noise_crop(rng: np.random.Generator) -> str:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(96, 288), dtype=np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _losses(rng, steps: int, every: int, start: float, end: float) -> list:
    points = list(range(0, steps, every)) + [steps - 1]
    return [[s, round(float(start * (end / start) ** (s / (steps - 1)) * rng.uniform(0.9, 1.1)), 5)] for s in points]


def student_report(k: int, rng: np.random.Generator, student: str) -> Report:
    config = load_config(None, "quick")
    acc_t, psnr_t = config.item("cnn.accuracy").threshold, config.item("sr.psnr").threshold
    items = [ItemResult(id=i.id, name=i.name, max_score=i.points) for i in config.items]
    accuracy = float(np.clip(rng.normal(0.968, 0.02), 0.08, 0.995)) if k % 11 else 0.1135
    psnr = float(rng.normal(27.5, 0.3)) if k % 13 else 14.2
    for item in items:
        item.set(1.0, "All cases correct.")
    if k % 7 == 3:
        items[1].set(0.5, LONG_MESSAGE if k % 2 else f"wrong channel order. {HOSTILE}")
    memorized = k % 17 == 5   # the metrics the grader records (checks/cnn.py): held-out accuracy and the gap
    held_out = accuracy - (0.08 if memorized else 0.002)
    items[6].set(acc_t.credit(held_out if memorized else accuracy),
                 f"Test accuracy after 400 training steps: {accuracy:.4f} (on the held-out MNIST images the "
                 f"grader kept back: {held_out:.4f}).", accuracy=round(accuracy, 5),
                 accuracy_heldout=round(held_out, 5), gap=round(accuracy - held_out, 5),
                 losses=_losses(rng, 400, 50, 2.3, 0.1 if k % 11 else 2.2))
    items[8].set(psnr_t.credit(psnr), f"Mean PSNR {psnr:.2f} dB.", psnr=round(psnr, 4), bicubic_psnr=26.8864,
                 losses=_losses(rng, 300, 25, 0.3, 0.004))
    crops = [{"label": f"10{k % 9}08{n}: bicubic 24.{n}1 dB | student {psnr - 2:.2f} dB | HR",
              "png_base64": noise_crop(rng)} for n in range(3)]
    flags = [f"cnn.accuracy: test accuracy {accuracy:.4f} but {held_out:.4f} on held-out images (gap "
             f"{accuracy - held_out:.3f} > 0.05): possibly memorized test images"] if memorized else []
    report = Report(score=0.0, max_score=100.0, profile="quick", device="cpu", duration_s=float(rng.uniform(35, 140)),
                    versions={"python": "3.11.7", "torch": "2.14.1"}, submission={"path": f"submissions/{student}"},
                    tests=items, sandbox="bwrap", flags=flags + ([HOSTILE] if k == 4 else []), images=crops,
                    complete=k % 19 != 7)
    report.recompute_score()
    return report


def class_entries(n: int, seed: int = 0) -> list[tuple[str, Report | None, str]]:
    rng = np.random.default_rng(seed)
    entries = []
    for k in range(n):
        student = f"student{k:03d}" if k != 4 else "mallory<script>alert(1)</script>"
        if k % 25 == 24:
            entries.append((student, None, f"the grader did not finish within the batch watchdog. {HOSTILE}"))
        else:
            entries.append((student, student_report(k, rng, student), ""))
    return entries


def write_class(out_dir: Path, n: int, seed: int = 0) -> tuple[list, dict[str, Path]]:
    """A batch's output folder for `n` generated students (grader.pages.write_class_pages), their code taken
    in turn from tests/similarity_class, so the copies there are copies here too."""
    from grader.batch import safe_name
    from grader.pages import write_class_pages
    sources = sorted((REPO_ROOT / "tests" / "similarity_class").iterdir())
    entries, folders = class_entries(n, seed), {}
    for k, (student, _, _) in enumerate(entries):
        folders[student] = out_dir / safe_name(student)
        (folders[student] / "submission").mkdir(parents=True)
        for name in ("model.py", "pixel_shuffle.py"):
            shutil.copy(sources[k % len(sources)] / name, folders[student] / "submission" / name)
    write_class_pages(out_dir, entries, folders, None, "quick")
    return entries, folders
