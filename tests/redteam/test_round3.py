"""Red team, round 3 (issue 16): the submission as files, class downloads, instructor outputs, LMS scripts,
the handout, and a class graded in process mode. One test (or one batch, asserted per class) per class of
attack that beat commit 2c475f8; each runs in bubblewrap and in the root fallback (`process` as root) where
student code runs at all. The gradings are cheap: the attacked items never run, or every student's code
fails fast, so no training happens here.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from conftest import REFERENCE, require_system
from grader.config import REPO_ROOT, load_config
from grader.orchestrator import grade, secrets
from grader.sandbox import modes
from grader.sinks import NASTY_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_redteam import DATA, MODES, needs, write_rubric  # noqa: E402

MODEL_ITEMS = ("cnn.interface", "cnn.accuracy", "sr.interface", "sr.psnr")
SHUFFLE_ITEMS = ("pixel_shuffle.shapes", "pixel_shuffle.values", "pixel_shuffle.einops", "pixel_shuffle.module",
                 "pixel_unshuffle.values")
SYNTAX_ERROR = "def oops(:\n"


@pytest.fixture(scope="module")
def rubric(tmp_path_factory):
    return write_rubric(tmp_path_factory.mktemp("round3-rubric") / "fast.yaml")


def scores(report) -> dict[str, tuple[float, float, str]]:
    return {t.id: (t.score, t.max_score, t.output) for t in report.tests}


# ------------------------------------------------------------------ class 1: symlinks in a submission
@pytest.mark.parametrize("mode", MODES)
def test_class1_symlinked_submission_files_are_refused_not_followed(mode, rubric, tmp_path):
    """model.py -> the checkout's reference/ (was: 40/40 on the untrained items) and pixel_shuffle.py -> a
    file only root may read (was: its text in the report, its sha256 in submission.files)."""
    needs(mode)
    secret = tmp_path / "root_only" / "secret.py"
    secret.parent.mkdir()
    secret.write_text("# ROUND3_ROOT_ONLY_SECRET\n" + (REFERENCE / "pixel_shuffle.py").read_text())
    secret.chmod(0o600)
    links = tmp_path / "links"
    links.mkdir()
    (links / "model.py").symlink_to(REFERENCE / "model.py")
    (links / "pixel_shuffle.py").symlink_to(secret)
    out = tmp_path / "report.json"
    report = grade(links, load_config(rubric, "quick"), DATA, out=out, sandbox=mode)
    text = out.read_text()
    assert report.score == 0 and report.submission["files"] == []
    assert all("symbolic link; submit the file itself" in output for _, _, output in scores(report).values())
    assert "ROUND3_ROOT_ONLY_SECRET" not in text
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in text

    mixed = tmp_path / "mixed"   # a link to the reference next to a real file: only the real file is graded
    mixed.mkdir()
    (mixed / "model.py").symlink_to(REFERENCE / "model.py")
    shutil.copy(REFERENCE / "pixel_shuffle.py", mixed / "pixel_shuffle.py")
    got = scores(grade(mixed, load_config(rubric, "quick"), DATA, sandbox=mode))
    assert all(got[i][0] == got[i][1] for i in SHUFFLE_ITEMS), got
    assert all(got[i][0] == 0 and "model.py is a symbolic link" in got[i][2] for i in MODEL_ITEMS), got


# ------------------------------------------------------------------ class 2: unbounded reads
@pytest.mark.parametrize("mode", MODES)
def test_class2_a_2_gib_sparse_model_py_is_refused_without_reading_it(mode, rubric, tmp_path):
    """Was: the grading process at 2.1 GB RSS, 2 GiB written into the worker's folder (billed to the student's
    disk limit), and the working pixel_shuffle.py scored 0."""
    needs(mode)
    folder = tmp_path / "sparse"
    folder.mkdir()
    with open(folder / "model.py", "wb") as f:
        f.truncate(2 * 2**30)
    shutil.copy(REFERENCE / "pixel_shuffle.py", folder / "pixel_shuffle.py")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = grade(folder, load_config(rubric, "quick"), DATA, sandbox=mode)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    got = scores(report)
    assert grown_mb < 200, f"the grader's peak RSS grew by {grown_mb:.0f} MB"
    assert all(got[i][0] == got[i][1] for i in SHUFFLE_ITEMS), got
    assert all(got[i][0] == 0 and "more than the 1,048,576 bytes" in got[i][2] for i in MODEL_ITEMS), got
    assert [f["name"] for f in report.submission["files"]] == ["pixel_shuffle.py"]


# ------------------------------------------------------------------ classes 3, 4, 5, 8: one class, one batch
CLASSMATE_MARKER = "ROUND3_CLASSMATE_MARKER"
# RED TEAM: student code finds the batch's out-dir in a grader's command line (--out DIR/<student>/report.json)
# and reads every classmate's model.py and report.json; what it read comes back in its own error message.
SNOOP = '''import glob, os
seen = []
for pid in os.listdir("/proc"):
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    except OSError:
        continue
    for i, arg in enumerate(args[:-1]):
        if arg == b"--out":
            out_dir = os.path.dirname(os.path.dirname(os.fsdecode(args[i + 1])))
            seen.append("out-dir " + out_dir)
            for path in glob.glob(out_dir + "/*/submission/model.py") + glob.glob(out_dir + "/*/report.json"):
                try:
                    seen.append(open(path, errors="replace").read(300))
                except OSError as exc:
                    seen.append(f"denied {exc.strerror}")
raise RuntimeError("ROUND3 SNOOP saw: " + " | ".join(seen)[:3000])
'''
ESCAPE = "\x1b]0;pwned\x07\x1b[2J"


def build_class(root: Path) -> dict[str, str]:
    """A class folder with every nasty name; returns {what: the student id discover gives it}."""
    root.mkdir()
    fs = os.fsencode(root)

    def student(name: str | bytes, files: dict[str | bytes, str]) -> None:
        folder = os.path.join(fs, os.fsencode(name))
        os.mkdir(folder)
        for fname, text in files.items():
            with open(os.path.join(folder, os.fsencode(fname)), "w") as f:
                f.write(text)
    student(b"stud\xff", {"model.py": SYNTAX_ERROR, b"notes\xff.txt": "x"})        # class 3: not UTF-8
    student("\r=1+1", {"model.py": SYNTAX_ERROR})                                 # class 5: CR + formula
    student(ESCAPE, {"model.py": SYNTAX_ERROR})                                   # class 5: escape sequences
    student("snoop", {"pixel_shuffle.py": SNOOP})                                 # class 8
    student("victim", {"model.py": f"# {CLASSMATE_MARKER}\n" + SYNTAX_ERROR})      # class 8
    (root / "links_only").mkdir()                                                 # class 3: nothing readable
    (root / "links_only" / "model.py").symlink_to("/etc/passwd")
    (root / "links_only" / "pixel_shuffle.py").symlink_to(REFERENCE / "pixel_shuffle.py")
    (root / "fifo_only").mkdir()
    os.mkfifo(root / "fifo_only" / "model.py")
    (root / "dup").mkdir()                                                        # class 4: one id, two uploads
    (root / "dup" / "model.py").write_text(SYNTAX_ERROR)
    with zipfile.ZipFile(root / "dup.zip", "w") as zf:
        zf.writestr("model.py", SYNTAX_ERROR)
    for name in NASTY_NAMES:   # every other nasty name as a student with no readable file: an error row each
        if name not in ("stud\udcff", "\r=1+1", ESCAPE, "notes\udcff.txt"):
            student(name, {"readme.txt": "x"})
    return {"folder": root, "undecodable": "stud\udcff", "formula": "\r=1+1", "escape": ESCAPE}


@pytest.fixture(scope="module", params=MODES)
def graded_class(request, rubric, tmp_path_factory):
    """`python -m grader batch` on that class (stderr is a pipe, not a terminal), in each sandbox. The
    out-dir goes where every user may search (as an instructor's usually is; pytest's own folders are
    0700, which would hide it whatever the grader did); the uploads stay in pytest's."""
    mode = request.param
    needs(mode)
    ids = build_class(tmp_path_factory.mktemp(f"round3-class-{mode}") / "class")
    searchable = Path(tempfile.mkdtemp(prefix="round3-out-", dir="/tmp"))
    searchable.chmod(0o755)
    out = searchable / "out"
    try:
        r = subprocess.run([sys.executable, "-m", "grader", "batch", str(ids.pop("folder")), "--out-dir",
                            str(out), "--jobs", "2", "--profile", "quick", "--config", str(rubric), "--sandbox",
                            mode], cwd=REPO_ROOT, capture_output=True, timeout=900)
        yield {"mode": mode, "out": out, "ids": ids, "returncode": r.returncode,
               "stderr": r.stderr.decode("utf-8", "replace"),
               "manifest": json.loads((out / "manifest.json").read_text())}
    finally:
        shutil.rmtree(searchable, ignore_errors=True)


def rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_class3_undecodable_names_and_unreadable_folders_get_rows(graded_class):
    """Was: UnicodeEncodeError, exit 1, no grades.csv, nobody graded; a folder of links or a FIFO: no row."""
    assert graded_class["returncode"] == 0, graded_class["stderr"][-3000:]
    got = rows(graded_class["out"])
    assert len(got) == len(graded_class["manifest"]["students"]) == 14
    assert got["stud\\xff"]["status"] == "complete" and got["stud\\xff"]["error"] == ""
    folder = graded_class["out"] / graded_class["manifest"]["students"]["stud\udcff"]["folder"]
    assert "notes\\xff.txt" in (folder / "ignored_files.txt").read_text()
    for name in ("links_only", "fifo_only"):
        assert got[name]["status"] == "error" and "not read" in got[name]["error"], got[name]


def test_class4_two_uploads_with_one_id_get_two_error_rows(graded_class):
    """Was: one manifest entry and one page for `dup/` and `dup.zip`; both roster rows linked to it."""
    got, students = rows(graded_class["out"]), graded_class["manifest"]["students"]
    assert "dup" not in got and {"dup#1", "dup#2"} <= set(got)
    assert all(got[d]["status"] == "error" and "2 uploads have the student id 'dup'" in got[d]["error"]
               for d in ("dup#1", "dup#2"))
    assert students["dup#1"]["folder"] != students["dup#2"]["folder"]
    assert len({e["folder"] for e in students.values()}) == len(students)


def test_class5_no_formula_or_bare_cr_in_the_csvs_and_no_escape_sequence_on_stderr(graded_class):
    """Was: `\\r=1+1` started a row of its own in grades.csv and similarity.csv (csv.writer leaves a lone CR
    unquoted); ids went raw into the batch's stderr, escape sequences included."""
    out = graded_class["out"]
    for name in ("grades.csv", "similarity.csv"):
        raw = (out / name).read_bytes()
        assert b"\r" not in raw, name   # a spreadsheet breaks a row at a bare CR, quoted or not
        for row in csv.reader(io.StringIO(raw.decode("utf-8"), newline="")):
            assert all(cell.lstrip(" \t\n")[:1] not in ("=", "+", "-", "@") for cell in row), row
    got = rows(out)
    assert len(got) == 14 and got["'\n=1+1"]["status"] == "complete"
    stderr = graded_class["stderr"]
    assert "\x1b" not in stderr and "\x07" not in stderr and "\\x1b]0;pwned\\x07\\x1b[2J" in stderr
    assert "stud\\xff" in stderr


def test_class8_student_code_cannot_read_classmates_files(graded_class):
    """Was (process mode): the snoop read the victim's model.py and report.json through the out-dir named in
    a grader's command line. The out-dir is now the grader's alone (0700)."""
    out, mode = graded_class["out"], graded_class["mode"]
    snoop = json.loads((out / graded_class["manifest"]["students"]["snoop"]["folder"] / "report.json").read_text())
    outputs = " ".join(t["output"] for t in snoop["tests"])
    assert "ROUND3 SNOOP saw" in outputs   # the attack ran
    assert CLASSMATE_MARKER not in outputs and '"tests"' not in outputs, outputs[:2000]
    if mode == "process" and modes.drops_root(mode):   # it found the out-dir, and could not enter it
        assert "out-dir " + str(out) in outputs
        assert str(out) not in snoop["sandbox_note"]   # hidden, so not named
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_class8_the_sandbox_note_names_a_report_folder_others_may_read():
    """Where the report's folder cannot be hidden (readable by every user), process mode's note names it."""
    if not modes.drops_root("process"):
        pytest.skip("only the root fallback switches student code to another uid")
    folder = Path(tempfile.mkdtemp(dir="/tmp"))   # /tmp: searchable by every user
    try:
        folder.chmod(0o755)
        note = modes.sandbox_note("process", secrets(None, folder / "report.json"))
        assert "WARNING: student code can read" in note and f"{folder} (the folder of this report" in note
        folder.chmod(0o700)
        assert str(folder) not in modes.sandbox_note("process", secrets(None, folder / "report.json"))
    finally:
        folder.rmdir()


# ------------------------------------------------------------------ class 6: the LMS grade.sh
def test_class6_a_newline_in_a_folder_name_cannot_pick_a_host_file(tmp_path):
    """Was: `find -printf '%d\\t%p\\n' | sort -n | head -n 1 | cut -f2-` read a forged line from the folder
    name `a<LF>0<TAB><host file><LF>z` and `cp` copied that host file in as pixel_shuffle.py."""
    from grader.templates import fill_from, variables
    host_file = tmp_path / "host" / "secret.py"
    host_file.parent.mkdir()
    host_file.write_text("ROUND3_HOST_SECRET = 1\n")
    src = tmp_path / "submission"
    forged = src / f"a\n0\t{host_file}\nz"
    forged.mkdir(parents=True)
    (forged / "pixel_shuffle.py").write_text("STUDENT_OWN = 1\n")
    (src / "deeper" / "still").mkdir(parents=True)
    (src / "deeper" / "still" / "model.py").write_text("STUDENT_MODEL = 1\n")
    bundle, captured = tmp_path / "bundle", tmp_path / "captured"
    bundle.mkdir()
    fake_python = tmp_path / "python"   # stands in for the grader: keeps what grade.sh copied
    fake_python.write_text(f'#!/bin/sh\n[ "$2" = grader ] && cp -r "$4" {captured}\nexit 0\n')
    fake_python.chmod(0o755)
    script = tmp_path / "grade.sh"
    script.write_text(fill_from("common/grade.sh", {v: "1" for v in variables("common/grade.sh")}))
    env = {"PATH": os.environ["PATH"], "BUNDLE": str(bundle), "SUBMISSION_SRC": str(src), "TMPDIR": str(tmp_path),
           "RESULTS": str(tmp_path / "results" / "results.json"), "FORMAT": "gradescope",
           "GRADER_PYTHON": str(fake_python), "STATIC_FALLBACK": "{}"}
    r = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (captured / "pixel_shuffle.py").read_text() == "STUDENT_OWN = 1\n"
    assert (captured / "model.py").read_text() == "STUDENT_MODEL = 1\n"
    assert "ROUND3_HOST_SECRET" not in r.stdout + r.stderr
    checker = shutil.which("shellcheck")
    require_system(checker is not None, "shellcheck", "sudo apt-get install shellcheck")
    lint = subprocess.run([checker, "--shell=bash", "--severity=warning", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


# ------------------------------------------------------------------ class 7: the handout
def test_class7_the_handout_never_ships_an_uncommitted_student_folder(tmp_path, monkeypatch):
    """Was: `package handout` copied student/ from the working tree, an uncommitted solution included."""
    from grader import handout
    from grader.bundle import PackageError
    from grader.config import DEFAULT_CONFIG
    repo = tmp_path / "checkout"
    (repo / "student").mkdir(parents=True)
    for name in ("model.py", "pixel_shuffle.py"):
        shutil.copy(REPO_ROOT / "student" / name, repo / "student" / name)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "student"], check=True)
    subprocess.run(git + ["commit", "-qm", "stubs"], check=True)
    monkeypatch.setattr(handout, "REPO_ROOT", repo)
    committed = (repo / "student" / "pixel_shuffle.py").read_bytes()

    def shipped() -> bytes:
        content = handout.handout_files(DEFAULT_CONFIG)["student/pixel_shuffle.py"]
        return content.read_bytes() if isinstance(content, Path) else content
    assert shipped() == committed
    (repo / "student" / "pixel_shuffle.py").write_text((REFERENCE / "pixel_shuffle.py").read_text())
    with pytest.raises(PackageError, match="differs from the committed stub"):   # (building from HEAD
        assert shipped() == committed                                           # would be right too)


def test_class7_the_worker_warms_einops_up_without_the_answer_and_the_readme_names_the_handout():
    worker = (REPO_ROOT / "grader" / "worker" / "__main__.py").read_text()
    assert "(c r1 r2)" not in worker and "(h r1) (w r2)" not in worker
    assert "package handout" in (REPO_ROOT / "README.md").read_text()


def test_class8_a_running_classmates_worker_folder_is_closed_to_other_sandbox_uids(tmp_path):
    """batch --jobs 2 in process mode: two graders, two sandbox uids, two worker folders in /tmp at once.
    Each folder is entered only by the grader and its own sandbox uid (was: 0o755, so one student's code
    could read the classmate's model.py in the other worker's folder)."""
    if os.geteuid() != 0:
        pytest.skip("only the root fallback switches student code to another uid")
    from grader.sandbox import SANDBOX_UID, default_program
    from grader.sandbox.workspace import Workspace
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "model.py").write_text(f"# {CLASSMATE_MARKER}\n")
    workspace = Workspace(folder, default_program())
    try:
        workspace.hand_over(SANDBOX_UID)

        def cat_as(uid: int) -> subprocess.CompletedProcess:
            def become():
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            return subprocess.run(["cat", str(workspace.root / "submission" / "model.py")], preexec_fn=become,
                                  capture_output=True, text=True)
        assert CLASSMATE_MARKER in cat_as(SANDBOX_UID).stdout          # its own worker reads it
        other = cat_as(SANDBOX_UID + 1)                                # the classmate's grader's uid cannot
        assert other.returncode != 0 and CLASSMATE_MARKER not in other.stdout
    finally:
        workspace.remove()
