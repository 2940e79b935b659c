"""The practical's pictures of the trained CNN, drawn from the report's data (grader/pictures.py): the t-SNE of
its embedding coloured by digit (inline SVG), the first convolution's filters (a PNG grid) and the confusion
matrix on the test set (inline SVG) with the most confused pairs named. No matplotlib; every label is escaped.
"""
from __future__ import annotations

import base64
import io

import numpy as np

from grader import pictures
from grader.pages import tsne
from grader.pages.charts import W, _svg
from grader.pages.html import esc
from grader.items import TRAINED

ITEM = next(spec.id for spec in TRAINED if spec.pictures)   # the item whose run the pictures come from

# matplotlib's tab10, the practical's colours for the ten digits
DIGIT_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")
FILTER_PX, FILTER_GAP, FILTER_COLUMNS = 48, 6, 8
FILTER_TILES = 64   # drawn at most: a 1x1 conv with 65,536 outputs (within the value cap) was a 570 MB canvas


def embedding_title(accuracy: object) -> str:
    shown = f"{accuracy:.4f}" if isinstance(accuracy, (int, float)) else "unknown"
    return f"Last layer embedding space. Accuracy={shown}"


def tsne_figure(sample: object, accuracy: object, svg_id: str = "tsne") -> str:
    """The t-SNE scatter of the embedding sample, or a sentence saying why there is none."""
    points = pictures.unpack(sample.get("points")) if isinstance(sample, dict) else None
    digits = sample.get("digits") if isinstance(sample, dict) else None
    if points is None or points.ndim != 2 or not isinstance(digits, str) or len(digits) != len(points) \
            or not digits.isdigit():
        return (f'<p class="muted">No embedding picture: {ITEM} did not finish, or the embedding CNN.forward '
                'returned was not a finite batch of numbers.</p>')
    placed = tsne.layout(points)
    if placed.points is None:
        return f'<p class="note" id="{esc(svg_id)}-missing">No t-SNE picture: {esc(placed.why)}</p>'
    title = embedding_title(accuracy)
    size, top, pad = W, 28, 10
    lo, hi = placed.points.min(axis=0), placed.points.max(axis=0)
    scale = (size - 2 * pad - 90) / max(float((hi - lo).max()), 1e-9)
    parts = [f'<text x="{size / 2}" y="16" text-anchor="middle" font-weight="bold">{esc(title)}</text>',
             f'<rect x="{pad}" y="{top}" width="{size - 2 * pad - 80}" height="{size - top - pad}" fill="none" '
             f'stroke="#ccc"/>']
    for digit in range(pictures.DIGITS):
        chosen = placed.points[[d == str(digit) for d in digits]]
        if len(chosen):
            dots = "".join(f"M{pad + 4 + (x - lo[0]) * scale:.0f} {top + 4 + (y - lo[1]) * scale:.0f}h0"
                           for x, y in chosen)
            parts.append(f'<path class="digit-{digit}" d="{dots}" stroke="{DIGIT_COLORS[digit]}" stroke-width="6" '
                         f'stroke-linecap="round"><title>digit {digit}: {len(chosen)} images</title></path>')
        y = top + 20 + 22 * digit
        parts.append(f'<circle cx="{size - 70}" cy="{y - 4}" r="5" fill="{DIGIT_COLORS[digit]}"/>'
                     f'<text x="{size - 58}" y="{y}">{digit}</text>')
    return (f'<figure style="width:{size}px">{_svg(svg_id, title, size - 8, "".join(parts), width=size)}<figcaption>t-SNE (scikit-learn, '
            f'seed {tsne.SEED}) of the embedding your trained CNN returns for {len(points)} test images, '
            f'coloured by their true digit.</figcaption></figure>')


def filters_figure(packed: object, img_id: str = "filters") -> str:
    """The first convolution's filters as a grid of PNG tiles: red positive, blue negative, white zero."""
    weight = pictures.unpack(packed)
    if weight is None or weight.ndim != 4 or weight.shape[0] == 0:
        return f'<p class="muted">No filter picture: the trained CNN has no Conv2d, or {ITEM} did not finish.</p>'
    from PIL import Image
    out_ch, in_ch, kh, kw = weight.shape
    tiles = weight[:FILTER_TILES].mean(axis=1)      # a filter over several input channels: their mean
    tiles = tiles / max(float(np.abs(tiles).max()), 1e-12)
    columns = min(FILTER_COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    step = FILTER_PX + FILTER_GAP
    canvas = np.full((rows * step - FILTER_GAP, columns * step - FILTER_GAP, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        rgb = np.stack([1 - np.clip(-tile, 0, 1), 1 - np.abs(tile), 1 - np.clip(tile, 0, 1)], axis=-1)
        big = np.kron((rgb * 255).round().astype(np.uint8), np.ones((-(-FILTER_PX // kh), -(-FILTER_PX // kw), 1),
                                                                    dtype=np.uint8))[:FILTER_PX, :FILTER_PX]
        r, c = divmod(k, columns)
        canvas[r * step:r * step + big.shape[0], c * step:c * step + big.shape[1]] = big
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG", optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure style="width:{max(canvas.shape[1], 300)}px"><img id="{esc(img_id)}" alt="first convolution filters" src="data:image/png;base64,{data}">'
            f'<figcaption>{f"The first {len(tiles)} of the" if len(tiles) < out_ch else "The"} {out_ch} filters of '
            f'your first convolution ({kh}x{kw}'
            f'{f", mean over {in_ch} input channels" if in_ch > 1 else ""}): red positive, blue negative.'
            f'</figcaption></figure>')


def confusion_figure(counts: object, svg_id: str = "confusion") -> str:
    """The 10x10 confusion matrix (rows: true digit, columns: predicted), shaded by each row's share, and
    the most confused pairs named under it."""
    if not (isinstance(counts, list) and len(counts) == pictures.DIGITS and all(
            isinstance(row, list) and len(row) == pictures.DIGITS and
            all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in row) for row in counts)):
        return f'<p class="muted">No confusion matrix: {ITEM} did not finish.</p>'
    cell, left, top = 44, 70, 58
    title = "Confusion matrix on the test set"
    parts = [f'<text x="{W / 2}" y="16" text-anchor="middle" font-weight="bold">{esc(title)}</text>',
             f'<text x="{left + 5 * cell}" y="{top - 24}" text-anchor="middle">predicted digit</text>',
             f'<text x="16" y="{top + 5 * cell}" text-anchor="middle" transform="rotate(-90 16 {top + 5 * cell})">'
             f'true digit</text>']
    for k in range(pictures.DIGITS):
        parts.append(f'<text x="{left + k * cell + cell / 2}" y="{top - 6}" text-anchor="middle">{k}</text>'
                     f'<text x="{left - 8}" y="{top + k * cell + cell / 2 + 4}" text-anchor="end">{k}</text>')
    for t, row in enumerate(counts):
        total = max(sum(row), 1)
        for p, n in enumerate(row):
            share = n / total
            fill = (f"rgba(46,125,50,{0.15 + 0.85 * share:.3f})" if t == p else
                    f"rgba(198,40,40,{min(1.0, 8 * share):.3f})" if n else "#fff")
            parts.append(f'<rect x="{left + p * cell}" y="{top + t * cell}" width="{cell}" height="{cell}" '
                         f'fill="{fill}" stroke="#ddd"><title>true {t}, predicted {p}: {n}</title></rect>'
                         f'<text x="{left + p * cell + cell / 2}" y="{top + t * cell + cell / 2 + 4}" '
                         f'text-anchor="middle">{n}</text>')
    svg = _svg(svg_id, title, top + 10 * cell + 12, "".join(parts))
    pairs = pictures.most_confused(counts)
    named = "; ".join(f"a {t} taken for a {p} {n} time{'s' if n != 1 else ''}" for t, p, n in pairs)
    caption = f"Most confused: {named}." if pairs else "No test image was misclassified."
    return f'<figure style="width:{W}px">{svg}<figcaption id="{esc(svg_id)}-pairs">{esc(caption)}</figcaption></figure>'
