"""Inline SVG figures: histograms with thresholds, loss curves, and one value against zero_at / full_at.

Sized to stay readable in a 1300 px wide screenshot (two figures side by side, 12 px text at least).
Every label passes through esc; numbers are formatted here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from grader.pages.html import esc

W, FONT = 580, 12
ZERO_COLOR, FULL_COLOR, BAR_COLOR = "#c62828", "#2e7d32", "#1565c0"
SERIES_COLORS = ("#1565c0", "#e65100", "#6a1b9a")


@dataclass(frozen=True)
class Scale:
    """Where the thresholds are: the axis spans one threshold gap below zero_at to half a gap above full_at
    (or the data), so the region that decides credit always fills the figure."""
    zero_at: float | None
    full_at: float | None
    fmt: Callable[[float], str]
    bounds: tuple[float, float] | None = None   # a fixed axis instead (e.g. scores, 0 to 100%)

    def span(self, values: list[float]) -> tuple[float, float]:
        if self.bounds:
            return self.bounds
        if self.zero_at is None or self.full_at is None:
            lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
            return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
        gap = self.full_at - self.zero_at
        return self.zero_at - gap, max([self.full_at + gap / 2] + [v for v in values if math.isfinite(v)])


def _svg(svg_id: str, label: str, height: int, body: str, width: int = W) -> str:
    return (f'<svg id="{esc(svg_id)}" role="img" aria-label="{esc(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-size="{FONT}">{body}</svg>')


def _threshold_lines(scale: Scale, x_of, top: float, bottom: float) -> str:
    out = []
    for name, value, color, anchor, dx in (("zero_at", scale.zero_at, ZERO_COLOR, "end", -4),
                                           ("full_at", scale.full_at, FULL_COLOR, "start", 4)):
        if value is not None:
            x = x_of(value)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="{color}" '
                       f'stroke-width="2" stroke-dasharray="6 4"/><text x="{x + dx:.1f}" y="{top + 8}" '
                       f'text-anchor="{anchor}" font-weight="bold" style="fill:{color}">{name} '
                       f'{esc(scale.fmt(value))}</text>')
    return "".join(out)


def histogram(values: list[float], scale: Scale, title: str, svg_id: str, bins: int = 20) -> str:
    """Counts of `values` in `bins` bins, values below the axis counted in a grey bar at the left."""
    left, right, top, plot_h = 16, 16, 56, 170
    values = [v for v in values if math.isfinite(v)]
    lo, hi = scale.span(values)
    under = sum(v < lo for v in values)
    counts = [0] * bins
    for v in values:
        if v >= lo:
            counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    top_count = max(counts + [under, 1])
    plot_w = W - left - right - 48       # 48 px for the "below" bar
    x0 = left + 48
    x_of = lambda v: x0 + (v - lo) / (hi - lo) * plot_w
    bar_w = plot_w / bins
    parts = [f'<text x="{W / 2}" y="16" text-anchor="middle" font-weight="bold">{esc(title)} (n = {len(values)})</text>']
    for i, n in enumerate(counts + ([under] if under else [])):
        below = i == bins
        x, h = (left, plot_h * under / top_count) if below else (x0 + i * bar_w, plot_h * n / top_count)
        w = 32 if below else bar_w - 2
        start = lo + i * (hi - lo) / bins
        tip = f"below {scale.fmt(lo)}: {n}" if below else f"{scale.fmt(start)} to {scale.fmt(start + (hi - lo) / bins)}: {n}"
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                     f'fill="{"#9e9e9e" if below else BAR_COLOR}"><title>{esc(tip)}</title></rect>')
        if n:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle">{n}</text>')
    if under:
        parts.append(f'<text x="{left + 16}" y="{top + plot_h + 16}" text-anchor="middle">below</text>')
    for k in range(5):
        v = lo + k * (hi - lo) / 4
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        parts.append(f'<line x1="{x_of(v):.1f}" x2="{x_of(v):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" '
                     f'stroke="#888"/><text x="{x_of(v):.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}">'
                     f'{esc(scale.fmt(v))}</text>')
    parts.append(f'<line x1="{left}" x2="{W - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#888"/>')
    parts.append(_threshold_lines(scale, x_of, top - 24, top + plot_h))
    return _svg(svg_id, title, top + plot_h + 26, "".join(parts))


def gauge(value: float | None, scale: Scale, title: str, svg_id: str, marks: tuple = ()) -> str:
    """One value on the credit scale: red below zero_at, shaded between, green from full_at; `marks` are
    extra (label, value) ticks such as the bicubic baseline."""
    left, right, y, h = 16, 16, 40, 22
    lo, hi = scale.span([value] if value is not None else [])
    x_of = lambda v: left + (min(max(v, lo), hi) - lo) / (hi - lo) * (W - left - right)
    parts = [f'<text x="{left}" y="16" font-weight="bold">{esc(title)}</text>']
    if scale.zero_at is not None and scale.full_at is not None:
        for a, b, fill in ((lo, scale.zero_at, "#f9dede"), (scale.zero_at, scale.full_at, "#fdf3d2"),
                           (scale.full_at, hi, "#e3f1e4")):
            parts.append(f'<rect x="{x_of(a):.1f}" y="{y}" width="{x_of(b) - x_of(a):.1f}" height="{h}" fill="{fill}"/>')
        parts.append(_threshold_lines(scale, x_of, y - 14, y + h + 4))
    for label, v in marks:
        parts.append(f'<line x1="{x_of(v):.1f}" x2="{x_of(v):.1f}" y1="{y}" y2="{y + h + 36}" stroke="#777" '
                     f'stroke-dasharray="2 2"/><text x="{x_of(v) + 4:.1f}" y="{y + h + 44}" fill="#555">'
                     f'{esc(label)} {esc(scale.fmt(v))}</text>')
    if value is None or not math.isfinite(value):
        parts.append(f'<text x="{W / 2}" y="{y + 16}" text-anchor="middle">no value: the item did not finish</text>')
    else:
        x = x_of(value)
        off = " (off the scale)" if not lo <= value <= hi else ""
        anchor = "start" if x < W / 3 else "end" if x > 2 * W / 3 else "middle"
        parts.append(f'<path d="M{x:.1f} {y + h} l-7 12 h14 z" fill="#222"/><line x1="{x:.1f}" x2="{x:.1f}" '
                     f'y1="{y - 2}" y2="{y + h}" stroke="#222" stroke-width="3"/><text x="{x:.1f}" y="{y + h + 26}" '
                     f'text-anchor="{anchor}" font-weight="bold">{esc(scale.fmt(value))}{off}</text>')
    return _svg(svg_id, title, y + h + 52, "".join(parts))


def nice_ticks(hi: float, count: int = 4) -> list[float]:
    """0 and multiples of a round step (1, 2 or 5 times a power of ten) up to `hi`."""
    raw = hi / count
    base = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return [k * step for k in range(int(hi // step) + 1)]


def line_chart(series: list[tuple[str, list]], title: str, svg_id: str, y_label: str = "loss") -> str:
    """Training curves: each series is (label, [[step, value], ...]); a log axis when values span 10x."""
    left, right, top, plot_h = 56, 16, 30, 170
    clean = [(label, [(float(s), float(v)) for s, v in points if math.isfinite(float(v))])
             for label, points in series]
    pts = [p for _, ps in clean for p in ps]
    parts = [f'<text x="{W / 2}" y="16" text-anchor="middle" font-weight="bold">{esc(title)}</text>']
    if not pts:
        parts.append(f'<text x="{W / 2}" y="{top + 60}" text-anchor="middle">no training curve recorded</text>')
        return _svg(svg_id, title, top + plot_h + 40, "".join(parts))
    ys = [v for _, v in pts]
    log = min(ys) > 0 and max(ys) / min(ys) > 10
    f = math.log10 if log else (lambda v: v)
    y_lo, y_hi = f(min(ys)), f(max(ys))
    y_lo, y_hi = (y_lo - 0.5, y_hi + 0.5) if y_hi == y_lo else (y_lo, y_hi)
    x_hi = max(s for s, _ in pts) or 1.0
    px = lambda s: left + s / x_hi * (W - left - right)
    py = lambda v: top + (y_hi - f(v)) / (y_hi - y_lo) * plot_h
    for k in range(5):
        fv = y_lo + k * (y_hi - y_lo) / 4
        v = 10 ** fv if log else fv
        parts.append(f'<text x="{left - 4}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>'
                     f'<line x1="{left}" x2="{W - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>')
    for s in nice_ticks(x_hi):
        parts.append(f'<text x="{px(s):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{s:g}</text>')
    parts.append(f'<text x="{W / 2}" y="{top + plot_h + 32}" text-anchor="middle">optimizer step'
                 f'{" (log scale for " + esc(y_label) + ")" if log else ""}</text>')
    for n, (label, ps) in enumerate(clean):
        color = SERIES_COLORS[n % len(SERIES_COLORS)]
        line = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in ps)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts += [f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"><title>{esc(label)} step {s:.0f}: '
                  f'{esc(y_label)} {v:.4g}</title></circle>' for s, v in ps]
        if len(clean) > 1:
            parts.append(f'<text x="{W - right}" y="{top + 14 + 16 * n}" text-anchor="end" style="fill:{color}">'
                         f'{esc(label)}</text>')
    return _svg(svg_id, title, top + plot_h + 40, "".join(parts))
