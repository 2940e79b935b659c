"""grader/sinks.py: every sink with every nasty name, and the safe read of a submitted file."""
from __future__ import annotations

import csv
import html.parser
import io
import os

import pytest

from grader.sinks import NASTY_NAMES, csv_cell, html_text, path_component, terminal_text
from grader.submission_files import MAX_SUBMISSION_BYTES, SubmissionFileError, read_submission_file


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_path_component_is_one_safe_folder_name(name, tmp_path):
    part = path_component(name)
    assert part == path_component(name) and 0 < len(part) <= 91
    assert "/" not in part and not part.startswith((".", "-")) and part.isascii() and part.isprintable()
    (tmp_path / part).mkdir()   # a real folder name on this filesystem
    assert len({path_component(n) for n in NASTY_NAMES}) == len(NASTY_NAMES)


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_csv_cell_is_one_inert_cell(name):
    cell = csv_cell(name)
    assert "\r" not in cell and cell.lstrip(" \t\n")[:1] not in ("=", "+", "-", "@")
    assert not cell.startswith(("\t", "\n"))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([cell, "next"])
    buf.getvalue().encode("utf-8")   # writable as UTF-8
    assert list(csv.reader(io.StringIO(buf.getvalue(), newline=""))) == [[cell, "next"]]
    assert csv_cell(" =1+1") == "' =1+1" and csv_cell(1.5) == "1.5" and csv_cell("alice") == "alice"


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_html_text_is_inert_text(name):
    text = html_text(name)
    text.encode("utf-8")
    assert not set("<>\"'\x1b\x07") & set(text)
    seen = []
    parser = html.parser.HTMLParser()
    parser.handle_starttag = lambda *a: seen.append(a)
    parser.feed(f"<td>{text}</td>")
    assert seen == [("td", [])]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_terminal_text_is_one_printable_line(name):
    line = terminal_text(name)
    line.encode("utf-8")
    assert line.isprintable() and len(line) <= 250
    assert terminal_text("\x1b[2J") == "\\x1b[2J" and terminal_text("a\r\nb") == "a\\r\\nb"
    assert terminal_text("stud\udcff") == "stud\\xff" and terminal_text("\u202eevil") == "\\u202eevil"


def test_read_submission_file_refuses_links_special_files_and_huge_files(tmp_path):
    (tmp_path / "ok.py").write_bytes(b"x = 1\n")
    assert read_submission_file(tmp_path, "ok.py") == b"x = 1\n"
    (tmp_path / "link.py").symlink_to(tmp_path / "ok.py")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "folder.py").mkdir()
    with open(tmp_path / "huge.py", "wb") as f:
        f.truncate(2 * 2**30)
    for name, message in (("link.py", "link.py is a symbolic link; submit the file itself"),
                          ("dangling.py", "is a symbolic link"), ("fifo.py", "is a FIFO"),
                          ("folder.py", "is a folder"),
                          ("huge.py", f"more than the {MAX_SUBMISSION_BYTES:,} bytes")):
        with pytest.raises(SubmissionFileError, match=message):
            read_submission_file(tmp_path, name)
    with pytest.raises(FileNotFoundError):
        read_submission_file(tmp_path, "missing.py")
    with pytest.raises(ValueError):
        read_submission_file(tmp_path, "../ok.py")
