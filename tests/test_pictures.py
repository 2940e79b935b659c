"""The practical's pictures in report.html (issue 18, part 3): the t-SNE of the trained CNN's embedding, the
first convolution's filters and the confusion matrix, drawn on the trusted side from arrays the worker returns.

The reference is graded once with the fast rubric and its page written (the t-SNE runs there, in its
subprocess); the page is checked as HTML and looked at in headless Chromium. The confusion matrix is compared
with a direct count, the t-SNE with itself, and forged picture arrays are an error of cnn.accuracy only.
"""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch

from conftest import DATA, REFERENCE, fast_rubric
from grader import pictures
from grader.checks import cnn
from grader.config import load_config
from grader.orchestrator import grade
from grader.pages import tsne, write_student_page
from grader.worker.tasks import principal_components
from headless import Browser, require_chromium
from test_worker_replies import ForgingSession, graded


@pytest.fixture(scope="module")
def reference_page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pictures")
    report = grade(REFERENCE, load_config(fast_rubric(tmp / "fast.yaml"), "quick"), DATA, sandbox="process")
    write_student_page(report, tmp / "report.html", "reference")
    return report, tmp / "report.html"


def accuracy_item(report):
    return next(t for t in report.tests if t.id == "cnn.accuracy")


def test_the_reference_page_has_the_three_pictures(reference_page):
    report, path = reference_page
    page, item = path.read_text(), accuracy_item(report)
    assert item.status != "error" and "accuracy" in item.metrics, item.output   # 20 steps: below full credit
    tsne_svg = re.search(r'<svg id="tsne".*?</svg>', page, re.S).group(0)
    assert f"Last layer embedding space. Accuracy={item.metrics['accuracy']:.4f}" in tsne_svg
    assert sorted(re.findall(r'class="digit-(\d)"', tsne_svg)) == [str(d) for d in range(10)]
    dots = sum(len(re.findall(r"M\d+ \d+h0", d)) for d in re.findall(r' d="([^"]*)"', tsne_svg))
    assert dots == pictures.EMBEDDED
    # the crops sit next to the t-SNE, in the same row of figures
    row = page[page.index('<svg id="tsne"'):]
    assert row.index('class="crop"') < row.index("</div>") + len(row.split("</div>")[0]) + 1000
    png = re.search(r'<img id="filters" alt="[^"]*" src="data:image/png;base64,([^"]+)"', page).group(1)
    from PIL import Image
    image = Image.open(io.BytesIO(base64.b64decode(png)))
    step = pictures_step()
    assert image.size == (8 * step - 6, 2 * step - 6)   # the reference's 16 filters: 2 rows of 8
    assert "The 16 filters of your first convolution (5x5)" in page
    confusion_svg = re.search(r'<svg id="confusion".*?</svg>', page, re.S).group(0)
    assert len(re.findall(r"<rect ", confusion_svg)) == 100
    assert re.search(r'id="confusion-pairs">Most confused: a \d taken for a \d \d+ times?', page)
    for hidden in ("float16_base64", "confusion&quot;:", '"confusion":'):
        assert hidden not in page      # drawn, not dumped in the measurements


def pictures_step() -> int:
    from grader.pages.pictures import FILTER_GAP, FILTER_PX
    return FILTER_PX + FILTER_GAP


def test_the_confusion_matrix_is_a_direct_count_of_the_test_predictions(reference_page):
    report, _ = reference_page
    metrics = accuracy_item(report).metrics
    counts = np.array(metrics["confusion"])
    assert counts.shape == (10, 10) and counts.sum() == len(DATA.mnist().test_y)
    assert np.trace(counts) / counts.sum() == pytest.approx(metrics["accuracy"], abs=1e-5)
    assert (counts.sum(axis=1) == np.bincount(DATA.mnist().test_y, minlength=10)).all()


def test_confusion_matches_a_loop_and_names_the_worst_pairs():
    rng = np.random.default_rng(3)
    labels = DATA.mnist().test_y[:2000]
    predictions = np.where(rng.random(len(labels)) < 0.8, labels, rng.integers(0, 10, len(labels)))
    predictions[:40] = np.where(labels[:40] == 4, 9, predictions[:40])   # a 4 taken for a 9, often
    direct = [[0] * 10 for _ in range(10)]
    for t, p in zip(labels, predictions):
        direct[t][p] += 1
    assert pictures.confusion(predictions, labels) == direct
    worst = max(((direct[t][p], t, p) for t in range(10) for p in range(10) if t != p))
    assert pictures.most_confused(direct)[0] == (worst[1], worst[2], worst[0])


def test_tsne_is_deterministic_and_cached(tmp_path, monkeypatch):
    embedding = torch.from_numpy(DATA.mnist().test_x[:200].reshape(200, -1).astype(np.float32))
    x = pictures.scaled(principal_components(embedding, pictures.PCA_DIMS).numpy())   # as the worker and cnn.py do
    layouts = []
    for run in ("a", "b"):   # two empty caches: computed twice, in two subprocesses
        monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / run))
        layouts.append(tsne.layout(x).points)
        assert tsne.cache_path(x).is_file()
    assert layouts[0] is not None and layouts[0].shape == (200, 2)
    assert np.array_equal(layouts[0], layouts[1])
    np.save(tsne.cache_path(x), layouts[0] + 1)   # the cache answers, not a third run
    assert np.array_equal(tsne.layout(x).points, layouts[0] + 1)
    assert np.array_equal(pictures.scaled(principal_components(embedding, pictures.PCA_DIMS).numpy()), x)


def test_without_scikit_learn_the_page_says_how_to_install_it(reference_page, monkeypatch):
    report, _ = reference_page
    from grader.pages import pictures as drawn
    monkeypatch.setattr(tsne, "available", lambda: False)
    metrics = accuracy_item(report).metrics
    html = drawn.tsne_figure(metrics["embedding_sample"], metrics["accuracy"])
    assert "scikit-learn is not installed" in html and "pip install" in html and "<svg" not in html
    assert '<img id="filters"' in drawn.filters_figure(metrics["first_conv"])   # numpy and PIL only


def forged_accuracy_run(embedding: np.ndarray | None, first_conv: np.ndarray | None = None):
    """cnn.accuracy scored from forged training and evaluation replies: every test image predicted right."""
    mnist = DATA.mnist()
    replies = {"cnn_train": {"state": [{"name": "w", "file": "w"}], "losses": [[0, 2.3]], "size": 10,
                             "size_after": 10, "trainable": 10},
               "cnn_eval": {"predictions": "p", "untrained": "u", "size": 10}}
    arrays = {"w": np.zeros(10, np.float32), "u": np.zeros(cnn.PROBE, np.int64), "e": embedding,
              "p": np.zeros(len(mnist.test_x) + cnn.HELD_OUT, np.int64)}
    if embedding is not None:
        replies["cnn_eval"]["embedding"] = "e"
    if first_conv is not None:
        replies["cnn_eval"]["first_conv"], arrays["f"] = "f", first_conv
    session = ForgingSession(replies, arrays)
    run = graded(["cnn.accuracy"], session)
    run.new_session = lambda: session
    cnn.score(run)
    return run.results["cnn.accuracy"]


@pytest.mark.parametrize("embedding, first_conv, problem", [
    (np.zeros((499, 8), np.float32), None, "embedding: expected float32 of shape (500, D)"),
    (np.zeros((500, 8, 2), np.float32), None, "embedding: expected float32 of shape (500, D)"),
    (np.zeros((500, 33), np.float32), None, "embedding: expected float32 of shape (500, D), D at most 32"),
    (np.zeros((500, 8), np.int64), None, "embedding: expected float32"),
    (np.zeros((500, 8), np.float32), np.zeros((16, 5, 5), np.float32), "first_conv: expected float32 of shape"),
])
def test_forged_picture_arrays_are_an_error_of_cnn_accuracy_only(embedding, first_conv, problem):
    result = forged_accuracy_run(embedding, first_conv)
    assert result.status == "error" and result.score == 0 and problem in result.output, result.output


def test_a_first_conv_of_many_filters_draws_a_bounded_grid():
    """The student chooses the first conv's shape: 65,536 1x1 filters (inside the kept-value cap) drew a
    570 MB canvas on the trusted side; the page draws the first FILTER_TILES and says how many there are."""
    from grader.pages import pictures as drawn
    weight = np.random.default_rng(0).normal(size=(pictures.MAX_FILTER_VALUES, 1, 1, 1)).astype(np.float32)
    html = drawn.filters_figure(pictures.pack(pictures.scaled(weight)))
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html)[1])
    from PIL import Image
    width, height = Image.open(io.BytesIO(png)).size
    step = drawn.FILTER_PX + drawn.FILTER_GAP
    assert (width, height) == (drawn.FILTER_COLUMNS * step - drawn.FILTER_GAP,
                               drawn.FILTER_TILES // drawn.FILTER_COLUMNS * step - drawn.FILTER_GAP)
    assert f"The first {drawn.FILTER_TILES} of the {pictures.MAX_FILTER_VALUES} filters" in html


def test_honest_picture_arrays_are_kept_small():
    embedding = np.random.default_rng(0).normal(size=(500, pictures.PCA_DIMS)).astype(np.float32) * 1e6
    result = forged_accuracy_run(embedding, np.ones((16, 1, 5, 5), np.float32))
    assert result.status != "error", result.output
    kept = result.metrics["embedding_sample"]
    points = pictures.unpack(kept["points"])
    assert points.shape == (500, pictures.PCA_DIMS) and np.isfinite(points).all() and np.abs(points).max() == 1
    assert len(kept["digits"]) == 500
    assert kept["digits"] == "".join(map(str, DATA.mnist().test_y[:500]))
    assert pictures.unpack(result.metrics["first_conv"]).shape == (16, 1, 5, 5)
    assert len(kept["points"]["float16_base64"]) < 50_000


def test_a_model_without_embedding_or_conv_loses_only_the_pictures():
    # the worker leaves the arrays out when the embedding is no batch of numbers, or there is no Conv2d
    result = forged_accuracy_run(None)
    assert result.status != "error" and "accuracy" in result.metrics, result.output
    assert "confusion" in result.metrics and "embedding_sample" not in result.metrics
    assert "first_conv" not in result.metrics


def test_the_pictures_in_headless_chromium(reference_page, tmp_path):
    require_chromium()
    _, path = reference_page
    with Browser(tmp_path / "profile", width=1300) as browser:
        browser.open(path)
        assert browser.js("document.documentElement.scrollWidth") <= 1300
        boxes = browser.js("['tsne', 'filters', 'confusion'].map(id => {const r = document.getElementById(id)"
                           ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]})")
        for left, top, width, height in boxes:
            assert width > 300 and height > 80 and left + width <= 1300, boxes
        crop = browser.js("(() => {const r = document.querySelector('.crop').getBoundingClientRect(); "
                          "return [r.left, r.top]})()")
        assert crop[0] > boxes[0][0] + boxes[0][2] and abs(crop[1] - boxes[0][1]) < 120   # beside the t-SNE
        assert browser.js("document.getElementById('filters').naturalWidth") > 0      # the PNG decoded
        shot = browser.screenshot(tmp_path / "pictures.png", "#tsne")
        from PIL import Image
        colours = Image.open(shot).convert("RGB").getcolors(1 << 20)
        tab10 = {tuple(int(c[k:k + 2], 16) for k in (1, 3, 5)) for c in DIGIT_COLORS()}
        assert len(tab10 & {rgb for _, rgb in colours}) == 10, "not every digit's colour is drawn"


def DIGIT_COLORS():
    from grader.pages.pictures import DIGIT_COLORS as colors
    return colors
