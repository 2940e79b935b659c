"""What every page shares: escaping, the page frame and its CSS, long text, tables, verdict colours.

Student text is hostile (ids, messages, flags, code): every string goes through `esc`, attributes are
always quoted, images are used only when their payload is plain base64, and no page loads anything: no
external script, style, font or image. Scripts are inline and only sort and filter rows that exist.
"""
from __future__ import annotations

import re

from grader.sinks import html_text

_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
PREVIEW_CHARS = 300
COLORS = {"passed": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "error": "#6a1b9a"}
TINTS = {"passed": "#e3f1e4", "partial": "#fdf3d2", "failed": "#f9dede", "error": "#eee2f4"}
CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:20px auto;padding:0 16px;color:#222;max-width:1240px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:6px;margin:4px 0}
details>summary{cursor:pointer;color:#1565c0}.muted{color:#666}.bad{color:#c62828}.note{background:#fff8e1;
border-left:4px solid #f9a825;padding:6px 10px}.badge{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;
font-size:12px}.figs{display:flex;flex-wrap:wrap;gap:16px}figure{margin:4px 0}figcaption{font-size:13px}
.crop img{image-rendering:pixelated;width:384px;height:128px}.k{display:inline-block;width:10px;height:10px;
margin:0 4px 0 12px}svg text{fill:#222}a{color:#1565c0}"""


esc = html_text   # every page escapes student text through the one HTML sink (grader/sinks.py)


def is_base64(data: object) -> bool:
    return isinstance(data, str) and bool(_B64.match(data))


def long_text(text: str, preview: int = PREVIEW_CHARS) -> str:
    """`text` in a <pre>; when longer than `preview`, its start with an ellipsis and the whole in <details>."""
    text = str(text)
    if len(text) <= preview:
        return f"<pre>{esc(text)}</pre>"
    cut = text[:preview].rsplit(" ", 1)[0] if " " in text[preview // 2:preview] else text[:preview]
    return (f'<pre>{esc(cut)}…</pre><details><summary>show all {len(text):,} characters</summary>'
            f"<pre>{esc(text)}</pre></details>")


def badge(status: str) -> str:
    return f'<span class="badge" style="background:{COLORS.get(status, "#555")}">{esc(status)}</span>'


def table(head: list[str], rows: list[list[str]], attrs: str = "") -> str:
    """A table; `head` is plain text (escaped here), cells are HTML the caller already escaped."""
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {attrs}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, script: str = "", extra_css: str = "") -> str:
    """A whole self-contained HTML document."""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}{extra_css}</style></head><body>", body,
        f"<script>{script}</script>" if script else "", "</body></html>", ""])
