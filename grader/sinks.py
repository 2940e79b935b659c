"""Student-controlled names leaving the grader: one function per place they end up.

Student ids, file names and messages come from uploads: they may hold bytes that are not UTF-8 (Python
carries them as lone surrogates, which no UTF-8 writer accepts), CR, LF, TAB, terminal escape sequences,
a leading `-` or `=`, or thousands of characters. Every place that turns such a name into

* a path component   -> `path_component`  (a folder name under the out-dir)
* a CSV cell         -> `csv_cell`        (grades.csv, similarity.csv)
* HTML text          -> `html_text`       (every page; `grader.pages.html.esc` is this function)
* a terminal or log line -> `terminal_text` (stderr progress, ignored_files.txt, grade logs)

goes through the one function here, so a new nasty name is handled everywhere at once (tests/test_sinks.py
runs each with every name in NASTY_NAMES).
"""
from __future__ import annotations

import hashlib
import html
import re
from typing import Any

# Surrogates U+DC80..U+DCFF are the bytes 0x80..0xFF of a name that was not UTF-8 (os.fsdecode's
# surrogateescape); any other lone surrogate cannot be written either.
_UNDECODED = re.compile("[\udc80-\udcff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PATH_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]")
_HTML_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a terminal shows
_TERMINAL_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@")
MAX_PATH_COMPONENT = 80
MAX_TERMINAL_CHARS = 200

# The names every sink is tested with (and the bulk-download tests build folders and files from them)
NASTY_NAMES = ("notes\udcff.txt", "stud\udcff", "\r=1+1", "a\nb", "a\tb", "\x1b]0;pwned\x07\x1b[2J",
               "--force", "=HYPERLINK(\"x\")", "x" * 250)   # 250: still a valid file name (255 bytes)


def readable(text: Any) -> str:
    """`text` as a str any UTF-8 writer accepts: undecodable bytes shown as \\xNN, other lone surrogates
    as U+FFFD."""
    text = "" if text is None else str(text)
    text = _UNDECODED.sub(lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}", text)
    return _SURROGATE.sub("\ufffd", text)


def path_component(name: str) -> str:
    """A folder name for `name`: kept if already safe, else sanitised + a hash of the original, so two
    different names never share a folder (``a/b`` and ``a_b`` stay apart). Never starts with `.` or `-`."""
    cleaned = _PATH_UNSAFE.sub("_", name).lstrip(".-")[:MAX_PATH_COMPONENT]
    if cleaned == name and cleaned:
        return cleaned
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{cleaned or 'student'}-{digest}"


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula.

    A cell whose first non-blank character starts a formula (`= + - @`), or that starts with TAB, CR or
    LF, gets a leading quote. CR becomes LF: csv.writer quotes a cell holding LF but not one holding a
    lone CR, which a spreadsheet reads as a line break, so `\\r=1+1` would start a row of its own."""
    text = "" if value is None else f"{value:g}" if isinstance(value, float) else readable(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text[:1] in ("\t", "\n") or text.lstrip(" \t\n")[:1] in _FORMULA_START:
        return "'" + text
    return text


def html_text(value: Any) -> str:
    """HTML-escaped text, with control characters (NUL, ANSI escapes) shown as U+FFFD."""
    return html.escape(_HTML_CONTROL.sub("\ufffd", readable(value)), quote=True)


def terminal_text(value: Any, limit: int = MAX_TERMINAL_CHARS) -> str:
    """One line for a terminal or a log: control characters, escape sequences, CR/LF/TAB and bidi
    overrides written as \\xNN / \\uNNNN, so a name can neither forge a line nor drive the terminal;
    cut to `limit` characters."""
    text = _TERMINAL_CONTROL.sub(lambda m: repr(m[0])[1:-1] if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}",
                                 readable(value))
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"
