"""Reports for a passing, a partial and a crashed submission, built without running any grading."""
from __future__ import annotations

import base64
import io

from PIL import Image

from grader.result import ItemResult, Report

HOSTILE = "<script>alert(1)</script> & \"quotes\" ]]> \x00\x1b[31m | ``` </pre>"
ITEMS = (  # id, name, points
    ("pixel_shuffle.shapes", "pixel_shuffle returns torch's output shapes", 5),
    ("pixel_shuffle.values", "pixel_shuffle matches torch.nn.functional.pixel_shuffle exactly", 10),
    ("pixel_shuffle.einops", "pixel_shuffle is done by einops, not torch's own shuffle", 5),
    ("pixel_shuffle.module", "PixelShuffle module matches nn.PixelShuffle (values and gradients)", 5),
    ("pixel_unshuffle.values", "pixel_unshuffle matches torch.nn.functional.pixel_unshuffle exactly", 5),
    ("cnn.interface", "CNN returns (logits, embedding) with the right shapes", 5),
    ("cnn.accuracy", "CNN test accuracy on MNIST after fixed-budget training", 30),
    ("sr.interface", "Net(r) upscales (B,1,H,W) to (B,1,H*r,W*r)", 5),
    ("sr.psnr", "Super-resolution PSNR on the test images", 30),
)


def crop_png(seed: int = 0, size: int = 48) -> str:
    """A small base64 PNG: three grey panels side by side (bicubic | student | HR)."""
    img = Image.new("L", (3 * size, size))
    img.putdata([(x * 7 + y * 3 + seed * 40 + (x // size) * 60) % 256 for y in range(size) for x in range(3 * size)])
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _report(tests: list[ItemResult], duration: float, path: str, **extra) -> Report:
    report = Report(score=0.0, max_score=float(sum(t.max_score for t in tests)), profile="quick", device="cpu",
                    versions={"python": "3.11.7", "torch": "2.14.1"}, duration_s=duration,
                    submission={"path": path, "files": [{"name": "model.py", "sha256": "ab" * 32, "bytes": 1234},
                                                        {"name": "pixel_shuffle.py", "sha256": "cd" * 32, "bytes": 567}]},
                    tests=tests, **extra)
    report.recompute_score()
    return report


def _items() -> list[ItemResult]:
    return [ItemResult(id=i, name=n, max_score=float(p)) for i, n, p in ITEMS]


def passing_report() -> Report:
    items = _items()
    for item in items:
        item.set(1.0, "ok", duration_s=1.5)
    items[6].metrics.update(accuracy=0.985)
    items[8].metrics.update(psnr_db=31.2)
    return _report(items, 61.2, "submissions/alice",
                   images=[{"label": "test image 1: bicubic | student | HR", "png_base64": crop_png(1)},
                           {"label": "test image 2: bicubic | student | HR", "png_base64": crop_png(2)}])


def partial_report() -> Report:
    items = _items()
    for item in items:
        item.set(1.0, "ok")
    items[1].set(0.0, f"values differ at index (0, 3, 1, 1): got 0.25, expected 0.5. Student said: {HOSTILE}")
    items[2].set(0.0, "pixel_shuffle calls torch.nn.functional.pixel_shuffle; use einops.rearrange")
    items[6].set(0.62, "accuracy 0.93 (full credit at 0.98)", accuracy=0.93, accuracy_perturbed=0.71)
    items[8].set(0.5, "PSNR 27.9 dB (full credit at 30.5 dB)", psnr_db=27.9, nan_metric=float("nan"))
    items[8].visibility = "after_due_date"
    return _report(items, 143.7, "submissions/bob",
                   flags=["cnn.accuracy: clean-vs-perturbed gap 0.22 > 0.05 (suspicious)", HOSTILE],
                   images=[{"label": "bob <crop>", "png_base64": crop_png(3)}])


def crashed_report() -> Report:
    items = _items()
    for item in items:
        item.error("SyntaxError: invalid syntax (model.py, line 3)\nTraceback (most recent call last): ...")
    return _report(items, 4.1, "submissions/carol", complete=True)


ALL = {"passing": passing_report, "partial": partial_report, "crashed": crashed_report}
