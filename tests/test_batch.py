"""`python -m grader batch`: every student gets a row whatever their code does, one crash or hang never stops
the batch, and reruns are resumable (only new or changed submissions are graded; --force regrades all).
Fast rubric throughout (20 MNIST steps, 5 SR steps, short item timeouts); each batch runs in a subprocess."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import REFERENCE, fast_rubric, write_submission
from grader import batch as batch_module, batch_jobs
from grader import cpus
from grader.batch import safe_name, submission_key
from grader.config import REPO_ROOT, load_config
from grader.sinks import NASTY_NAMES

REF_MODEL = (REFERENCE / "model.py").read_text()
STUB_MODEL = ("class CNN:\n    def __init__(self):\n        raise NotImplementedError\n\n"
              "class Net:\n    def __init__(self, upscale_factor):\n        raise NotImplementedError\n")
STUB_SHUFFLE = "def pixel_shuffle(x, r):\n    raise NotImplementedError\n"
CRASH_MODEL = REF_MODEL.replace("    def forward(self, x", "    def forward(self, x, *_a):\n        import os\n"
                                "        os._exit(3)\n\n    def _was_forward(self, x", 1)
HANG_MODEL = REF_MODEL.replace("    def __init__(self, upscale_factor: int):\n",
                               "    def __init__(self, upscale_factor: int):\n        while True:\n            pass\n", 1)
assert HANG_MODEL != REF_MODEL and CRASH_MODEL != REF_MODEL


def batch(subs, out, rubric, *extra, jobs=2, wait=True, timeout=900):
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out-dir", str(out), "--jobs", str(jobs),
           "--profile", "quick", "--config", str(rubric), "--sandbox", "process", *extra]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    r = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def grades(out: Path) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def manifest(out: Path) -> dict:
    path = out / "manifest.json"
    return json.loads(path.read_text())["students"] if path.is_file() else {}


def stamps(out: Path) -> dict[str, tuple]:
    """student -> (report mtime, manifest start time): both change exactly when a student is regraded."""
    m = manifest(out)
    return {s: ((out / e["folder"] / "report.json").stat().st_mtime_ns
                if (out / e["folder"] / "report.json").is_file() else None, e.get("started")) for s, e in m.items()}


def graders_running(out: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(out) in cmdline and " grade " in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def rubric(tmp_path_factory):
    """Fast budgets; 12 CPU-s per item so the hanging Net costs little (the reference's costliest call, the MNIST
    evaluation, takes 3.3; load does not count: limits are CPU seconds)."""
    return fast_rubric(tmp_path_factory.mktemp("rubric") / "fast.yaml", timeout_s=12)


def test_safe_name():
    assert safe_name("alice") == "alice" and safe_name("s123+s456") == "s123+s456"
    names = {safe_name(s) for s in ("a/b", "a_b", "../x", "..", "", "Zoë Ürban", "a b", "a\0b", ".hidden")}
    assert len(names) == 9
    for n in names:
        assert n and "/" not in n and "\0" not in n and not n.startswith(".") and n.isascii()
        assert n not in (".", "..") and len(n) < 120


def test_resume_key_changes_with_the_files_the_rubric_the_profile_and_the_graders_code(monkeypatch):
    """A rerun regrades exactly when something that decides the grade changed, a grader fix included."""
    files = {"model.py": b"x = 1\n", "pixel_shuffle.py": b"y = 2\n"}
    key = submission_key(files, "rubric-sha", "quick")
    assert submission_key(dict(files), "rubric-sha", "quick") == key
    assert submission_key({**files, "model.py": b"x = 2\n"}, "rubric-sha", "quick") != key
    assert submission_key(files, "other-rubric-sha", "quick") != key
    assert submission_key(files, "rubric-sha", "full") != key
    monkeypatch.setattr(batch_jobs, "grader_code_sha256", lambda: "a fixed grader")
    assert submission_key(files, "rubric-sha", "quick") != key


def test_a_changed_submission_never_shows_the_previous_report(tmp_path):
    """A submission changed since its report.json was written, and a batch interrupted before regrading it:
    its row says "not graded", never the old submission's score as complete."""
    fixture = REPO_ROOT / "tests" / "fixtures" / "report_passing.json"
    jobs = []
    for student in ("changed", "unchanged"):
        folder = tmp_path / student
        folder.mkdir()
        (folder / "report.json").write_text(fixture.read_text())
        jobs.append(batch_module.Job(student, folder, key=f"new key of {student}", files={}))
    manifest_ = batch_module.Manifest(tmp_path / "manifest.json")
    manifest_.record("changed", {"key": "the previous submission's key", "folder": "changed", "final": True})
    manifest_.record("unchanged", {"key": "new key of unchanged", "folder": "unchanged", "final": True})
    rows = {student: (report, error) for student, report, error in batch_module.rows(jobs, manifest_)}
    assert rows["changed"] == (None, "not graded (the batch was interrupted before this student)")
    report, error = rows["unchanged"]
    assert error == "" and report is not None and report.score == json.loads(fixture.read_text())["score"]


def test_where_the_sandbox_cannot_run_batch_exits_2_up_front(tmp_path, rubric):
    """Not a class of `error` rows with exit 0: one line saying why and what to do, before grading anyone."""
    subs = tmp_path / "subs"
    write_submission(subs / "alice", model=REF_MODEL)
    (tmp_path / "no-bwrap").mkdir()   # a PATH without bubblewrap
    r = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out-dir", str(tmp_path / "out"),
                        "--profile", "quick", "--config", str(rubric), "--sandbox", "bwrap"], cwd=REPO_ROOT,
                       env={**os.environ, "PATH": str(tmp_path / "no-bwrap")}, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.splitlines() == ["error: --sandbox bwrap: bubblewrap is not installed or cannot create namespaces "
                                     "here (install the `bubblewrap` package, or use --sandbox process)"]
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_batch_mixed_interrupt_resume_change(tmp_path, rubric):
    subs = tmp_path / "subs"
    write_submission(subs / "a_reference")
    write_submission(subs / "b_syntax", model="def oops(:\n")
    write_submission(subs / "c_stub", model=STUB_MODEL, pixel_shuffle=STUB_SHUFFLE)
    write_submission(subs / "d_crash", model=CRASH_MODEL)
    write_submission(subs / "e_hang", model=HANG_MODEL)
    out = tmp_path / "out"
    students = {"a_reference", "b_syntax", "c_stub", "d_crash", "e_hang"}

    # 1. start the batch, kill it (SIGKILL: no chance to clean up) once the first student is recorded
    proc = batch(subs, out, rubric, wait=False)
    deadline = time.monotonic() + 600
    while not manifest(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.kill()
    proc.wait()
    before = stamps(out)
    assert 1 <= len(before) < len(students), "the batch should have been killed part-way"
    deadline = time.monotonic() + 60   # its graders get SIGTERM (parent-death signal) and stop
    while graders_running(out) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not graders_running(out), "graders outlived the killed batch"

    # 2. rerun: grades only what is missing; every student ends up with a row and a report
    r = batch(subs, out, rubric)
    after = stamps(out)
    assert {s: after[s] for s in before} == before, "a finished student was regraded after the interruption"
    assert set(after) == students
    rows = grades(out)
    assert set(rows) == students
    assert (out / "summary.html").read_text().count("<h1>Grading summary</h1>") == 1
    for s in students:
        assert (out / safe_name(s) / "report.json").is_file()
        assert (out / safe_name(s) / "submission" / "model.py").is_file()
    reports = {s: json.loads((out / safe_name(s) / "report.json").read_text()) for s in students}
    items = {s: {t["id"]: t for t in rep["tests"]} for s, rep in reports.items()}
    assert items["a_reference"]["pixel_shuffle.values"]["status"] == "passed"
    assert items["a_reference"]["sr.interface"]["status"] == "passed"
    assert float(rows["a_reference"]["total"]) >= 40
    assert items["b_syntax"]["cnn.interface"]["status"] == "error"
    assert items["b_syntax"]["pixel_shuffle.values"]["status"] == "passed"
    assert items["c_stub"]["pixel_shuffle.values"]["status"] in ("error", "failed")
    assert float(rows["c_stub"]["total"]) == 0
    assert items["d_crash"]["cnn.interface"]["status"] == "error"
    assert items["d_crash"]["sr.interface"]["status"] == "passed"     # the crash cost only its own items
    assert items["e_hang"]["sr.interface"]["status"] == "error"
    assert items["e_hang"]["cnn.interface"]["status"] == "passed"
    assert "ETA" in r.stderr   # the progress line was shown

    # 3. an unchanged rerun grades nothing
    r = batch(subs, out, rubric)
    assert stamps(out) == after
    assert "grading 0 with" in r.stderr

    # 4. changing one student's file regrades only that student
    (subs / "c_stub" / "pixel_shuffle.py").write_text(STUB_SHUFFLE + "# resubmitted\n")
    batch(subs, out, rubric)
    changed = stamps(out)
    assert {s for s in students if changed[s] != after[s]} == {"c_stub"}
    assert set(grades(out)) == students


def test_canvas_zip_force_and_watchdog(tmp_path, rubric):
    """A Canvas bulk zip goes through batch; --force regrades all; the outer watchdog stops a grader and
    the student still gets an error row."""
    bundle = tmp_path / "canvas.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("doe_1001_5001_model.py", "def oops(:\n")
        zf.writestr("doe_1001_5002_pixel_shuffle.py", (REFERENCE / "pixel_shuffle.py").read_text())
        zf.writestr("roe_late_1002_5003_model.py", STUB_MODEL)   # no pixel_shuffle.py: those items error
    out = tmp_path / "out"
    batch(bundle, out, rubric)
    rows = grades(out)
    assert set(rows) == {"1001", "1002"}
    assert rows["1001"]["pixel_shuffle.values"] == "10" and rows["1001"]["status"] == "complete"
    assert rows["1002"]["pixel_shuffle.values"] == "0"
    first = stamps(out)
    batch(bundle, out, rubric, "--force")
    second = stamps(out)
    assert all(second[s] != first[s] for s in first), "--force must regrade everyone"

    # watchdog: margin chosen so the watchdog is 0.5 s, below what any grade takes (the data check and one
    # worker's `import torch` alone take longer; with the static check a failing submission can finish in 3 s)
    total = load_config(rubric, "quick").wall_budget_s(cpus.available())
    batch(bundle, tmp_path / "out2", rubric, "--margin", str(0.5 - total), jobs=1)
    rows = grades(tmp_path / "out2")
    assert set(rows) == {"1001", "1002"}
    for row in rows.values():
        assert row["status"] == "error" and "watchdog" in row["error"]
    assert not graders_running(tmp_path / "out2")


def test_layout_error_and_unsafe_ids_get_rows(tmp_path, rubric):
    """A student whose upload is unusable (zip slip) is not run but still has an error row; odd ids get
    safe folders. No grading runs here except one syntax-error submission."""
    subs = tmp_path / "subs"
    evil = subs / "mallory.zip"
    subs.mkdir()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../etc/model.py", "x = 1\n")
    write_submission(subs / "Zoë Ürban", model="def oops(:\n")
    out = tmp_path / "out"
    batch(subs, out, rubric)
    rows = grades(out)
    assert set(rows) == {"mallory", "Zoë Ürban"}
    assert rows["mallory"]["status"] == "error" and "outside the archive" in rows["mallory"]["error"]
    assert (out / safe_name("Zoë Ürban") / "report.json").is_file()
    assert not (out / "Zoë Ürban").exists()
    assert manifest(out)["mallory"]["report"] is False


def test_a_grade_the_machine_starved_is_retried_then_an_infra_error(tmp_path, monkeypatch):
    """`grade` exits 75 when the machine was too busy to run some items (never the student's fault): the local
    executor grades that student again, up to --retries times, then the row says infra_error."""
    from argparse import Namespace
    from grader.gradebook import status_of
    from grader.paths import DataPaths
    job = batch_module.Job("s1", tmp_path / "s1", "key", {})
    job.folder.mkdir()
    tries = tmp_path / "tries"
    # a stand-in for `python -m grader grade`: busy (75) on the first `busy` tries, then a report and 0
    script = ("import pathlib, sys\n"
              f"tries = pathlib.Path({str(tries)!r}); n = int(tries.read_text()) + 1 if tries.exists() else 1\n"
              "tries.write_text(str(n))\n"
              "if n <= int(sys.argv[1]): print('error: the machine was too busy'); sys.exit(75)\n"
              f"pathlib.Path({str(job.folder / 'report.json')!r}).write_text('{{}}')\n")
    runner = batch_module.Runner(Namespace(jobs=1, retries=2, sandbox=None), tmp_path / "r.yaml", "quick", 60, [],
                                 DataPaths.from_environment())
    for busy, retried, final in ((2, 2, True), (5, 2, False)):
        tries.unlink(missing_ok=True)
        monkeypatch.setattr(runner, "command", lambda job, busy=busy: [sys.executable, "-c", script, str(busy)])
        entry = runner.grade(job)
        assert int(tries.read_text()) == retried + 1 and len(entry.get("machine_busy", [])) == min(busy, retried + 1)
        assert entry["final"] is final and (entry["error"] == "") is final, entry
    assert status_of(None, entry["error"]) == "infra_error" and "not the student's fault" in entry["error"]


def test_every_nasty_name_gets_its_own_row_folder_and_page(tmp_path, rubric):
    """Each nasty id (non-UTF-8, CR, LF, TAB, escape sequences, leading - or =, 250 characters) as a student
    whose upload holds no readable model.py / pixel_shuffle.py (a link, a FIFO, a stray file): one error row
    each, a folder each, the pages written, nothing raw on stderr. No grading runs."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in NASTY_NAMES:
        folder = os.path.join(os.fsencode(subs), os.fsencode(name))
        os.mkdir(folder)
        with open(os.path.join(folder, os.fsencode(NASTY_NAMES[0])), "w") as f:
            f.write("notes")
    os.symlink("/etc/passwd", os.path.join(os.fsencode(subs), b"stud\xff", b"model.py"))
    os.mkfifo(os.path.join(os.fsencode(subs), b"--force", b"model.py"))
    out = tmp_path / "out"
    r = batch(subs, out, rubric)
    raw = (out / "grades.csv").read_bytes()
    assert b"\r" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert len(rows) == len(NASTY_NAMES) and all(row["status"] == "error" for row in rows)
    assert all(row["student"].lstrip(" \t\n")[:1] not in "=+-@" for row in rows)
    students = manifest(out)
    assert set(students) == set(NASTY_NAMES)
    assert len({e["folder"] for e in students.values()}) == len(NASTY_NAMES)
    assert all((out / e["folder"]).is_dir() for e in students.values())
    assert "\x1b" not in r.stdout + r.stderr and (out / "summary.html").is_file()
    assert "stud\\xff" in (out / "summary.html").read_text() and "\x1b" not in (out / "summary.html").read_text()
