"""Bulk downloads as the LMSs write them -> the right students, files and ignored lists; hostile zips refused."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from grader.layouts import MAX_STUDENT_BYTES, LayoutError, discover
from grader.sinks import NASTY_NAMES

MODEL = b"import torch\nclass CNN(torch.nn.Module):\n    pass\n"
SHUFFLE = b"from einops import rearrange\n"


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def by_id(subs):
    return {s.student_id: s for s in subs}


def test_gradescope_export(tmp_path):
    meta = b"""submission_111:
  :submitters:
  - :name: Ada Lovelace
    :sid: 'S001'
    :email: ada@example.edu
  :created_at: 2026-11-20 10:00:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.8e2
submission_222:
  :submitters:
  - :name: Pair One
    :sid: 'S002'
  - :name: Pair Two
    :email: two@example.edu
"""
    archive = make_zip(tmp_path / "gs.zip", {
        "assignment_9_export/submission_metadata.yml": meta,
        "assignment_9_export/submission_111/model.py": MODEL,
        "assignment_9_export/submission_111/pixel_shuffle.py": SHUFFLE,
        "assignment_9_export/submission_111/notes.txt": b"hi",
        "assignment_9_export/submission_222/src/model.py": MODEL,
        "assignment_9_export/submission_222/model.py": b"# top copy wins\n",
    })
    subs = by_id(discover(archive))
    assert set(subs) == {"S001", "S002+two@example.edu"}
    ada = subs["S001"]
    assert ada.files == {"model.py": MODEL, "pixel_shuffle.py": SHUFFLE} and ada.ignored == ["notes.txt"]
    assert ada.name == "Ada Lovelace" and ada.source == "gradescope:submission_111" and not ada.error
    pair = subs["S002+two@example.edu"]
    assert pair.files == {"model.py": b"# top copy wins\n"} and pair.ignored == ["src/model.py"]


def test_canvas_download(tmp_path):
    archive = make_zip(tmp_path / "submissions.zip", {
        "lovelaceada_12345_67890_model.py": b"# old\n",
        "lovelaceada_12345_67999_model-1.py": MODEL,
        "lovelaceada_12345_67891_pixel_shuffle.py": SHUFFLE,
        "lovelaceada_12345_67892_report.pdf": b"%PDF",
        "turingalan_late_23456_77777_model.py": MODEL,
        "hopper-grace_34567_88888_handin.zip": zip_bytes({"handin/model.py": MODEL, "handin/data.bin": b"x"}),
    })
    subs = by_id(discover(archive))
    assert set(subs) == {"12345", "23456", "34567"}
    ada = subs["12345"]
    assert ada.files == {"model.py": MODEL, "pixel_shuffle.py": SHUFFLE} and ada.name == "lovelaceada"
    assert ada.ignored == ["lovelaceada_12345_67890_model.py", "lovelaceada_12345_67892_report.pdf"]
    assert subs["23456"].late and not ada.late and subs["23456"].files == {"model.py": MODEL}
    grace = subs["34567"]  # a zip the student uploaded is opened one level deep
    assert grace.files == {"model.py": MODEL} and grace.ignored == ["hopper-grace_34567_88888_handin.zip/handin/data.bin"]


def test_moodle_download_folders_and_flat(tmp_path):
    archive = make_zip(tmp_path / "moodle.zip", {
        "Ada Lovelace_12345_assignsubmission_file_/model.py": MODEL,
        "Ada Lovelace_12345_assignsubmission_file_/pixel_shuffle.py": SHUFFLE,
        "Ada Lovelace_12345_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
        "Alan Turing_23456_assignsubmission_file_model.py": MODEL,
    })
    subs = by_id(discover(archive))
    assert set(subs) == {"12345", "23456"}
    assert subs["12345"].name == "Ada Lovelace" and set(subs["12345"].files) == {"model.py", "pixel_shuffle.py"}
    assert subs["12345"].ignored == ["onlinetext.html"] and subs["23456"].files == {"model.py": MODEL}


def test_folder_of_folders_and_folder_of_zips(tmp_path):
    (tmp_path / "class" / "alice").mkdir(parents=True)
    (tmp_path / "class" / "alice" / "model.py").write_bytes(MODEL)
    (tmp_path / "class" / "alice" / "__pycache__").mkdir()
    (tmp_path / "class" / "alice" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "class" / "alice" / "pixel_shuffle.py").symlink_to("/etc/passwd")
    make_zip(tmp_path / "class" / "bob.zip", {"bob/model.py": MODEL, "bob/pixel_shuffle.py": SHUFFLE})
    subs = by_id(discover(tmp_path / "class"))
    assert set(subs) == {"alice", "bob"}
    assert subs["alice"].files == {"model.py": MODEL}  # the symlink is never followed
    assert subs["alice"].ignored == ["__pycache__/model.cpython-311.pyc",
                                     "pixel_shuffle.py (a symbolic link: not read)"]
    assert subs["bob"].files == {"model.py": MODEL, "pixel_shuffle.py": SHUFFLE}


def test_zip_slip_in_bulk_download_is_refused(tmp_path):
    archive = make_zip(tmp_path / "evil.zip", {"alice/model.py": MODEL, "../../etc/cron.d/x": b"boom"})
    with pytest.raises(LayoutError, match=r"evil\.zip: entry '\.\./\.\./etc/cron\.d/x' points outside the archive"):
        discover(archive)


def test_zip_slip_or_bomb_in_one_student_zip_marks_only_that_student(tmp_path):
    (tmp_path / "class").mkdir()
    make_zip(tmp_path / "class" / "mallory.zip", {"/abs/model.py": MODEL})
    make_zip(tmp_path / "class" / "bomber.zip", {"model.py": MODEL, "zeros.bin": b"\0" * (MAX_STUDENT_BYTES + 1)})
    make_zip(tmp_path / "class" / "carol.zip", {"model.py": MODEL})
    subs = by_id(discover(tmp_path / "class"))
    assert subs["carol"].files == {"model.py": MODEL} and not subs["carol"].error
    assert "points outside the archive" in subs["mallory"].error and subs["mallory"].files == {}
    assert "20 MB" in subs["bomber"].error and subs["bomber"].files == {}


def test_lying_zip_header_is_caught_while_reading(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {"eve/model.py": b"#" * (MAX_STUDENT_BYTES + 10)})
    with zipfile.ZipFile(archive) as zf:  # rewrite the declared size to look tiny
        data = bytearray(archive.read_bytes())
        info = zf.getinfo("eve/model.py")
    import struct
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 100)  # central directory: uncompressed size
    struct.pack_into("<I", data, info.header_offset + 22, 100)  # local header
    archive.write_bytes(bytes(data))
    eve = discover(archive)[0]
    # zipfile stops at the declared size, so the stream never grows past it; the CRC then fails
    assert eve.student_id == "eve" and eve.files == {} and "unreadable upload" in eve.error


def test_clear_errors_for_bad_input(tmp_path):
    with pytest.raises(LayoutError, match="no such file or folder"):
        discover(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(LayoutError, match="not a folder or a zip file"):
        discover(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="found no student submissions"):
        discover(tmp_path / "empty")


def test_every_nasty_name_as_a_student_folder_and_as_a_file(tmp_path):
    """Non-UTF-8 bytes, CR, LF, TAB, escape sequences, a leading `-` or `=`, 250 characters: each folder is
    one student with its own id, each odd file name is listed in `ignored`, nothing raises."""
    root = tmp_path / "class"
    root.mkdir()
    for name in NASTY_NAMES:
        folder = os.path.join(os.fsencode(root), os.fsencode(name))
        os.mkdir(folder)
        with open(os.path.join(folder, b"model.py"), "wb") as f:
            f.write(MODEL)
        with open(os.path.join(folder, os.fsencode(NASTY_NAMES[0])), "wb") as f:
            f.write(b"notes")
    os.mkfifo(root / "--force" / "pixel_shuffle.py")
    (root / "a\tb" / "pixel_shuffle.py").symlink_to("/etc/passwd")
    subs = by_id(discover(root))
    assert set(subs) == set(NASTY_NAMES)
    assert all(s.files == {"model.py": MODEL} and not s.error for s in subs.values())
    assert all(NASTY_NAMES[0] in s.ignored for s in subs.values())
    assert "pixel_shuffle.py (a special file (FIFO, device or socket): not read)" in subs["--force"].ignored
    assert "pixel_shuffle.py (a symbolic link: not read)" in subs["a\tb"].ignored


def test_two_uploads_with_one_id_and_folders_of_links_only(tmp_path):
    root = tmp_path / "class"
    (root / "dup").mkdir(parents=True)
    (root / "dup" / "model.py").write_bytes(MODEL)
    make_zip(root / "dup.zip", {"model.py": MODEL})
    (root / "links").mkdir()
    (root / "links" / "model.py").symlink_to("/etc/passwd")
    (root / "links" / "sub").symlink_to("/etc")
    subs = by_id(discover(root))
    assert set(subs) == {"dup#1", "dup#2", "links"}
    assert all("2 uploads have the student id 'dup'" in subs[d].error and not subs[d].files for d in ("dup#1", "dup#2"))
    assert "no model.py or pixel_shuffle.py that can be read" in subs["links"].error


def test_a_folder_swapped_for_a_link_after_it_was_listed_is_refused_not_followed(tmp_path, monkeypatch):
    """A bulk download a student can still write to: between the listing and the reading, their folder
    becomes a link to a folder elsewhere that holds a model.py (here: a secret of the grading machine)."""
    root, elsewhere = tmp_path / "class", tmp_path / "elsewhere"
    (root / "alice" / "work").mkdir(parents=True)
    (root / "alice" / "work" / "model.py").write_bytes(MODEL)
    (root / "bob").mkdir()
    (root / "bob" / "model.py").write_bytes(MODEL)
    elsewhere.mkdir()
    (elsewhere / "model.py").write_text("SECRET = 'of the grading machine'\n")
    real_walk = os.walk

    def walk_then_swap(top, *args, **kwargs):
        yield from real_walk(top, *args, **kwargs)
        if Path(top) == root:
            os.rename(root / "alice" / "work", tmp_path / "moved")
            (root / "alice" / "work").symlink_to(elsewhere)
    monkeypatch.setattr(os, "walk", walk_then_swap)
    subs = by_id(discover(root))
    assert not any(b"SECRET" in content for s in subs.values() for content in s.files.values())
    assert "work is a symbolic link or not a folder any more" in subs["alice"].error, subs["alice"]
    assert subs["bob"].files == {"model.py": MODEL} and not subs["bob"].error
