"""Find per-student submissions in a bulk download: folder or zip, in any layout we know.

Layouts (detected in this order, after unwrapping one enclosing folder such as ``assignment_9_export/``):

* Gradescope "Export Submissions": ``submission_metadata.yml`` maps folders ``submission_<id>`` to
  ``:submitters: [{:name, :sid, :email}]``. student_id is the sid (else email, else the folder name);
  group members are joined with ``+``.
* Moodle "Download all submissions": ``Full Name_<participant id>_assignsubmission_file_/model.py``
  (or the same prefix on flat files). student_id is the participant id.
* Canvas "Download Submissions": flat files ``<name>_[late_]<user id>_<attachment id>_<file>``; Canvas
  renames a re-upload ``model-1.py``. student_id is the Canvas user id; for one file name the largest
  attachment id (the newest upload) wins.
* Otherwise one student per top-level folder or per top-level ``.zip`` (student_id = its name).

Only ``model.py`` and ``pixel_shuffle.py`` are kept (the shallowest copy), or without them the shallowest
``.ipynb`` outside hidden folders (as ``submission.ipynb``: a notebook submission); every other file is listed
in ``ignored``. A ``.zip`` a student uploaded is opened one level deep. Nothing is ever extracted to disk.
Safety: an archive entry with an absolute path or ``..`` is refused (zip slip), symlinks are never
followed, and a student's files may not exceed MAX_STUDENT_BYTES uncompressed (zip bombs), checked both
on the declared sizes and while reading. A problem with one student's files sets that Submission's
``error`` (so the student still gets a gradebook row); a problem with the bulk download raises LayoutError.
"""
from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from .sinks import readable, terminal_text
from .submission_files import SubmissionFileError, read_submission_file

WANTED = ("model.py", "pixel_shuffle.py")
NOTEBOOK = "submission.ipynb"   # a student who uploaded a notebook instead (grader/notebook/), kept under this name
MAX_STUDENT_BYTES = 20 * 1024 * 1024
MAX_ENTRIES = 200_000
JUNK = re.compile(r"(^|/)(__MACOSX|\.DS_Store|Thumbs\.db)(/|$)")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<sid>\d+)_assign(?:submission|feedback)_[a-z]+_(?P<rest>.*)$")
CANVAS = re.compile(r"^(?P<name>[a-z0-9-]+?)_(?P<late>late_)?(?P<sid>\d+)_(?P<aid>\d+)_(?P<file>.+)$", re.I)
CANVAS_DUP = re.compile(r"^(?P<stem>.+)-\d+(?P<ext>\.[^.]+)$")


class LayoutError(ValueError):
    """The bulk download itself is unusable; the message says where and what to do."""


@dataclass
class Submission:
    student_id: str
    files: dict[str, bytes]
    ignored: list[str]
    source: str
    name: str = ""
    late: bool = False
    error: str = ""


@dataclass
class _FoundFile:
    """A file found in a bulk download (a folder or a zip), not yet read."""
    path: str                       # posix, relative to the bundle root (or student root)
    size: int                       # declared uncompressed size
    read: Callable[[int], bytes]    # read at most n+1 bytes
    logical: str = ""               # name used for matching (Canvas strips its prefix)
    rank: int = 0                   # Canvas attachment id: larger is newer
    refused: str = ""               # why it is never read ("a symbolic link", "a FIFO", ...)


def _bounded(handle: Any, n: int) -> bytes:
    """At most n+1 bytes, so a reader can tell "more than n" without reading a bomb."""
    with handle:
        return handle.read(n + 1)


def _safe_name(name: str, where: str) -> str:
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ".." in PurePosixPath(path).parts:
        raise LayoutError(f"{where}: entry {name!r} points outside the archive (absolute path or '..'); "
                          "refusing this archive. Re-download it from the LMS or remove that entry.")
    return path


def _zip_entries(zf: zipfile.ZipFile, where: str) -> list[_FoundFile]:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise LayoutError(f"{where}: {len(infos)} entries is more than the {MAX_ENTRIES} allowed; is this the right file?")
    out = []
    for info in infos:
        path = _safe_name(info.filename, where)
        if info.is_dir() or JUNK.search(path):
            continue
        link = "a symbolic link" if stat.S_ISLNK(info.external_attr >> 16) else ""
        out.append(_FoundFile(path, 0 if link else info.file_size, lambda n, i=info: _bounded(zf.open(i), n),
                              refused=link))
    return out


def _dir_entries(root: Path) -> list[_FoundFile]:
    """Every file of the folder, links, FIFOs and device nodes included (so a student whose folder holds
    only those still gets a row): all are read through read_submission_file, which refuses them."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not follow symlinked folders
        linked_dirs = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for fname in filenames + linked_dirs:
            full = Path(dirpath, fname)
            rel = full.relative_to(root).as_posix()
            if JUNK.search(rel):
                continue
            info = full.lstat()
            refused = "" if stat.S_ISREG(info.st_mode) else "a symbolic link" if stat.S_ISLNK(info.st_mode) \
                else "a special file (FIFO, device or socket)"
            out.append(_FoundFile(rel, info.st_size if not refused else 0,
                                  lambda n, d=os.path.relpath(dirpath, root), f=fname:
                                  read_submission_file(d, f, limit=n, beneath=root), refused=refused))
    return out


def _under(entries: list[_FoundFile], prefix: str) -> list[_FoundFile]:
    return [replace(e, path=e.path[len(prefix):], logical=e.logical[len(prefix):] if e.logical else "")
            for e in entries if e.path.startswith(prefix)]


def _read(entry: _FoundFile, budget: int, where: str) -> bytes:
    try:
        data = entry.read(budget)
    except SubmissionFileError as exc:
        raise LayoutError(f"{where}: {exc}") from None
    if len(data) > budget:
        raise LayoutError(f"{where}: {entry.path} unpacks to more than the {MAX_STUDENT_BYTES // 2**20} MB allowed per student")
    return data


def _build(student_id: str, entries: list[_FoundFile], source: str, name: str = "", late: bool = False) -> Submission:
    """Pick model.py / pixel_shuffle.py from one student's entries; any problem becomes `error`."""
    sub = Submission(student_id, {}, [], source, name, late)
    where = terminal_text(f"{source}: student {student_id}", limit=500)   # error text: logs, CSV, pages
    try:
        if sum(e.size for e in entries) > MAX_STUDENT_BYTES:
            raise LayoutError(f"{where}: files total more than {MAX_STUDENT_BYTES // 2**20} MB uncompressed; "
                              "check the upload (a zip bomb or data files) and grade it by hand")
        expanded = []
        for e in entries:
            if e.path.lower().endswith(".zip") and not any(x.path.endswith(WANTED) for x in entries):
                inner = zipfile.ZipFile(io.BytesIO(_read(e, MAX_STUDENT_BYTES, where)))
                expanded += [_FoundFile(f"{e.path}/{x.path}", x.size, x.read) for x in _zip_entries(inner, f"{where}: {e.path}")]
            else:
                expanded.append(e)
        if sum(e.size for e in expanded) > MAX_STUDENT_BYTES:
            raise LayoutError(f"{where}: files total more than {MAX_STUDENT_BYTES // 2**20} MB uncompressed after unzipping")
        chosen: dict[str, _FoundFile] = {}
        for e in sorted(expanded, key=lambda e: (e.path.count("/"), -e.rank, e.path)):
            base = PurePosixPath(e.logical or e.path).name
            if e.refused:   # listed, never read; the shallowest regular copy is graded
                sub.ignored.append(f"{e.path} ({e.refused}: not read)")
            elif base in WANTED and base not in chosen:
                chosen[base] = e
            elif (base.lower().endswith(".ipynb") and NOTEBOOK not in chosen   # not Jupyter's .ipynb_checkpoints/
                  and not any(part.startswith(".") for part in PurePosixPath(e.path).parts)):
                chosen[NOTEBOOK] = e   # under a fixed name: what a student calls it never reaches a path
            else:
                sub.ignored.append(e.path)
        if NOTEBOOK in chosen and any(name in chosen for name in WANTED):   # the .py files are what is graded
            sub.ignored.append(chosen.pop(NOTEBOOK).path)
        budget = MAX_STUDENT_BYTES
        for base, e in sorted(chosen.items()):
            sub.files[base] = _read(e, budget, where)
            budget -= len(sub.files[base])
        sub.ignored.sort()
        if not sub.files:
            found = "; ".join(terminal_text(n) for n in sub.ignored[:5]) or "nothing"
            raise LayoutError(f"{where}: no {' or '.join(WANTED)} that can be read in the upload (found: {found}); "
                              f"ask the student for the files themselves, not links to them")
    except (LayoutError, zipfile.BadZipFile, RuntimeError, OSError) as exc:
        sub.files = {}
        sub.error = readable(exc) if isinstance(exc, LayoutError) else f"{where}: unreadable upload: {readable(exc)}"
    return sub


class _RubyTolerantLoader(yaml.SafeLoader):
    """Gradescope writes Ruby YAML (e.g. ``!ruby/object:BigDecimal``); read such nodes as plain data."""


_RubyTolerantLoader.add_multi_constructor("!ruby/", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node)))


def _key(d: dict[str, Any], k: str) -> Any:
    return d.get(f":{k}", d.get(k))


def _gradescope(entries: list[_FoundFile], where: str) -> list[Submission]:
    meta_entry = next(e for e in entries if e.path == "submission_metadata.yml")
    try:
        meta = yaml.load(_read(meta_entry, MAX_STUDENT_BYTES, where), Loader=_RubyTolerantLoader) or {}
    except yaml.YAMLError as exc:
        raise LayoutError(f"{where}: submission_metadata.yml is not valid YAML ({exc}); re-export from Gradescope") from None
    if not isinstance(meta, dict):
        raise LayoutError(f"{where}: submission_metadata.yml should map submission folders to submitters")
    folders = sorted({e.path.split("/")[0] for e in entries if "/" in e.path} | set(meta))
    subs = []
    for folder in folders:
        record = meta.get(folder) if isinstance(meta.get(folder), dict) else {}
        people = [p for p in (_key(record, "submitters") or []) if isinstance(p, dict)]
        ids = [str(_key(p, "sid") or _key(p, "email") or folder) for p in people] or [folder]
        names = " + ".join(str(_key(p, "name") or "") for p in people)
        subs.append(_build("+".join(ids), _under(entries, folder + "/"), f"gradescope:{folder}", names))
    return subs


def _grouped(entries: list[_FoundFile], pattern: re.Pattern, source: str) -> list[Submission]:
    groups: dict[str, tuple[str, bool, list[_FoundFile]]] = {}
    for e in entries:
        top, _, rest = e.path.partition("/")
        m = pattern.match(top)
        if not m:
            continue
        name, late, items = groups.setdefault(m["sid"], (m["name"], bool(m.groupdict().get("late")), []))
        if pattern is CANVAS:
            dup = CANVAS_DUP.match(m["file"])
            logical = dup["stem"] + dup["ext"] if dup else m["file"]
            items.append(replace(e, logical=logical, rank=int(m["aid"])))
        else:
            items.append(replace(e, path=rest or m["rest"]))
    return [_build(sid, items, source, name, late) for sid, (name, late, items) in sorted(groups.items())]


def _detect(entries: list[_FoundFile], where: str) -> list[Submission]:
    tops = {e.path.split("/")[0] for e in entries}
    while len(tops) == 1 and all("/" in e.path for e in entries) and not any(
            e.path.count("/") == 1 and PurePosixPath(e.path).name in WANTED for e in entries):
        entries = _under(entries, tops.pop() + "/")  # unwrap a single enclosing folder
        tops = {e.path.split("/")[0] for e in entries}
    if any(e.path == "submission_metadata.yml" for e in entries):
        return _gradescope(entries, where)
    if any(MOODLE.match(t) for t in tops):
        return _grouped(entries, MOODLE, f"moodle:{where}")
    if any(CANVAS.match(e.path) for e in entries if "/" not in e.path):
        return _grouped(entries, CANVAS, f"canvas:{where}")
    subs = []
    for top in sorted(tops):  # one student per folder, or per .zip lying at the top
        inside = _under(entries, top + "/")
        if inside:
            subs.append(_build(top, inside, f"folders:{where}"))
        elif top.lower().endswith(".zip"):
            subs.append(_build(top[:-4], [e for e in entries if e.path == top], f"zips:{where}"))
    return subs


def discover(path: str | os.PathLike) -> list[Submission]:
    """All submissions under `path` (a folder or a .zip), sorted by student_id."""
    root = Path(path)
    if root.is_dir():
        subs = _detect(_dir_entries(root), str(root))
    elif root.is_file() and zipfile.is_zipfile(root):
        with zipfile.ZipFile(root) as zf:
            subs = _detect(_zip_entries(zf, str(root)), str(root))
    elif root.exists():
        raise LayoutError(f"{root}: not a folder or a zip file; pass the LMS bulk download (zip) or a folder of submissions")
    else:
        raise LayoutError(f"{root}: no such file or folder")
    if not subs:
        raise LayoutError(f"{root}: found no student submissions (expected per-student folders or zips, or a "
                          "Gradescope, Canvas or Moodle bulk download)")
    return sorted(_unique_ids(subs), key=lambda s: s.student_id)


def _unique_ids(subs: list[Submission]) -> list[Submission]:
    """Two uploads with one student id (a folder `dup/` and an archive `dup.zip`) are never graded as one:
    each gets its own id `dup#1`, `dup#2` (so its own manifest entry, folder and page) and an error row,
    because which upload is the student's is the instructor's call."""
    by_id: dict[str, list[Submission]] = {}
    for sub in subs:
        by_id.setdefault(sub.student_id, []).append(sub)
    taken = set(by_id)
    for student_id, same in by_id.items():
        if len(same) < 2:
            continue
        sources = ", ".join(sorted(terminal_text(s.source) for s in same))
        for n, sub in enumerate(sorted(same, key=lambda s: s.source), 1):
            unique = f"{student_id}#{n}"
            while unique in taken:
                unique += "#"
            taken.add(unique)
            sub.student_id, sub.files = unique, {}
            sub.error = (f"{len(same)} uploads have the student id {terminal_text(student_id)!r} ({sources}): none "
                         f"was graded; keep the student's one upload and rerun")
    return subs
