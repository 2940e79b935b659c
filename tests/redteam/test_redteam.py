"""Red team: every attack submission in cases/ graded in both sandboxes, against the bounds in cases.yaml.

Each case is graded by grader.orchestrator.grade (in this process, so the data slices load once) with a tiny
rubric: 30 MNIST steps, 3 SR steps, on the first 4000/1000 MNIST and 8/6 BSDS images (subset.py), item
timeouts of 10-25 s and a 2 GB memory limit. Then: the report file is valid JSON with all 9 item ids, the
bounds and messages of cases.yaml hold, and no process of the sandbox uid, no stray named `redteam_stray`
and no descendant of this process survives; for cases marked `then_reference`, the reference graded right
after scores exactly as it does alone, unflagged. After every case the decode cache is bit-identical, no
worker folder or /dev/shm entry is left, a root-owned canary file in /tmp is unchanged and a process of
another user (`redteam_victim`) is alive. A few cases also go through the real command line (`python -m
grader grade`, exit status 0), and one grading is stopped by SIGTERM mid-training.

    REDTEAM_RESULTS=/tmp/redteam.json pytest tests/redteam    # also writes every case's scores there
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conftest import PATHS, fast_rubric, require_system, write_submission
from grader import oracle
from grader.config import ITEM_IDS, load_config
from grader.orchestrator import grade
from grader.sandbox import bwrap_works, sandbox_uid
from grader.sandbox.reaper import alive as _alive, descendants as _descendants

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CASES = yaml.safe_load((HERE / "cases.yaml").read_text())
MODES = ["bwrap", "process"]
# CPU seconds (load does not count): the reference needs a fraction; an attack that loops spends them all
TIMEOUTS = {"pixel_shuffle.shapes": 8, "pixel_shuffle.values": 8, "pixel_shuffle.einops": 8,
            "pixel_shuffle.module": 8, "pixel_unshuffle.values": 8, "cnn.interface": 20, "sr.interface": 20,
            "cnn.accuracy": 60, "sr.psnr": 60}
MAX_GRADE_S = 300           # an attack submission must not hold the grader longer than this (a loaded 2-core box)
RESULTS: dict[str, dict] = {}

sys.path.insert(0, str(HERE))
from subset import SubsetDatasets  # noqa: E402

DATA = SubsetDatasets(PATHS)


def write_rubric(path: Path, mnist_steps: int = 30, sr_steps: int = 3) -> Path:
    fast_rubric(path, mnist_steps=mnist_steps, sr_steps=sr_steps)
    raw = yaml.safe_load(path.read_text())
    raw["settings"]["memory_limit_mb"] = 2048
    for item in raw["items"]:
        item["timeout_s"] = TIMEOUTS[item["id"]]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def rubric(tmp_path_factory):
    return write_rubric(tmp_path_factory.mktemp("redteam-rubric") / "fast.yaml")


@pytest.fixture(scope="module", autouse=True)
def _write_results():
    yield
    if os.environ.get("REDTEAM_RESULTS"):
        Path(os.environ["REDTEAM_RESULTS"]).write_text(json.dumps(RESULTS, indent=1, sort_keys=True))


def submission(name: str, tmp_path: Path) -> Path:
    """The case's attack files, with the reference's for whatever file the case does not replace."""
    case = HERE / "cases" / name
    texts = {f: (case / f).read_text() if (case / f).is_file() else None for f in ("model.py", "pixel_shuffle.py")}
    return write_submission(tmp_path / "submission" / name, model=texts["model.py"],
                            pixel_shuffle=texts["pixel_shuffle.py"])


def needs(mode):
    if mode == "bwrap":
        require_system(bwrap_works(), "bubblewrap (the sandbox LMS containers use)",
                       "sudo apt-get install bubblewrap")


CANARY = Path("/tmp/redteam_canary")   # plant_symlinks points symlinks at it; root_escape tries to overwrite it
CANARY_TEXT = "the grader must never write here\n"


@pytest.fixture(scope="module", autouse=True)
def canary_and_victim():
    """A file only this test's user may write, and a process of this user named `redteam_victim` (which
    root_escape tries to kill); every case must leave both as they were."""
    CANARY.unlink(missing_ok=True)
    CANARY.write_text(CANARY_TEXT)
    CANARY.chmod(0o644)
    victim = subprocess.Popen([sys.executable, "-c", "import ctypes, time\n"
                               "ctypes.CDLL(None).prctl(15, b'redteam_victim', 0, 0, 0)\ntime.sleep(3600)"])
    yield victim
    victim.kill()
    victim.wait()
    CANARY.unlink(missing_ok=True)


def cache_digest() -> dict[str, str]:
    """SHA-256 of every file in the decode cache the grades read."""
    folder = oracle.cache_dir(PATHS)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".lock"}


def leftovers() -> set[str]:
    """Worker folders in the temp folder and entries in /dev/shm: what a grading may create and must remove."""
    temp = Path(tempfile.gettempdir())
    found = {str(p) for p in temp.glob("grader-worker-*")}
    if Path("/dev/shm").is_dir():
        found |= {str(p) for p in Path("/dev/shm").iterdir()}
    return found


def host_intact(victim, cache_before: dict, leftovers_before: set) -> list[str]:
    """What an attack changed outside its sandbox, as readable lines (empty: nothing)."""
    problems = []
    if CANARY.is_symlink() or not CANARY.is_file() or CANARY.read_text() != CANARY_TEXT:
        problems.append(f"{CANARY} was changed")
    if victim.poll() is not None:
        problems.append(f"redteam_victim (pid {victim.pid}) was killed")
    after = cache_digest()
    changed = sorted(n for n in cache_before if n != oracle.SUMS and after.get(n) != cache_before[n])   # made: fine
    problems += [f"decode cache file {n} changed" for n in changed]
    problems += [f"{p} was left behind" for p in sorted(leftovers() - leftovers_before)]
    return problems


def survivors() -> list[str]:
    """Anything left of a grading: processes of the sandbox uid, named strays, our live descendants."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        if (comm == "redteam_stray" or uid == sandbox_uid()) and _alive(int(entry)):
            found.append(f"{entry} ({comm}, uid {uid})")
    found += [f"{pid} (descendant)" for pid in _descendants(os.getpid()) if _alive(pid) and comm_of(pid) != "redteam_victim"]
    return sorted(set(found))


def comm_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def wait_for_no_survivors(limit_s: float = 3.0) -> list[str]:
    deadline = time.monotonic() + limit_s
    while (left := survivors()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def expectation(name: str, mode: str) -> dict:
    spec = {k: v for k, v in CASES[name].items() if k not in MODES}
    for key, value in (CASES[name].get(mode) or {}).items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    spec["absent"] = [path.format(repo=REPO) for path in spec.get("absent", [])]
    return spec


def matching(pattern_map: dict, item_id: str):
    return [v for pattern, v in pattern_map.items() if fnmatch.fnmatch(item_id, pattern)]


def check_report(name: str, mode: str, data: dict) -> list[str]:
    """Every way the report breaks the case's expectations, as readable lines."""
    spec, problems = expectation(name, mode), []
    tests = {t["id"]: t for t in data["tests"]}
    if sorted(tests) != sorted(ITEM_IDS):
        problems.append(f"item ids {sorted(tests)}")
    if "forged" in data or data.get("max_score") != 100:
        problems.append("the report was forged")
    for item_id, t in tests.items():
        fraction = t["score"] / t["max_score"]
        for lo, hi in matching(spec.get("scores", {}), item_id):
            if not lo - 1e-9 <= fraction <= hi + 1e-9:
                problems.append(f"{item_id}: score {t['score']}/{t['max_score']} outside [{lo}, {hi}]: {t['output'][:300]}")
        for text in matching(spec.get("messages", {}), item_id):
            if text.lower() not in t["output"].lower():
                problems.append(f"{item_id}: message lacks {text!r}: {t['output'][:300]}")
        for bounds in matching(spec.get("metrics", {}), item_id):
            for metric, (lo, hi) in bounds.items():
                value = t["metrics"].get(metric)
                if value is None or not lo <= value <= hi:
                    problems.append(f"{item_id}: metric {metric}={value} outside [{lo}, {hi}]: {t['output'][:200]}")
        if spec.get("max_output_chars") and len(t["output"]) > spec["max_output_chars"]:
            problems.append(f"{item_id}: output of {len(t['output'])} characters")
    for item_id, t in tests.items():
        if spec.get("no_message") and spec["no_message"].lower() in t["output"].lower():
            problems.append(f"{item_id}: message contains {spec['no_message']!r}: {t['output'][:300]}")
    if spec.get("flags") and not any(spec["flags"] in f for f in data["flags"]):
        problems.append(f"no flag containing {spec['flags']!r} in {data['flags']}")
    if spec.get("no_flag") and any(spec["no_flag"] in f for f in data["flags"]):
        problems.append(f"a flag contains {spec['no_flag']!r}: {data['flags']}")
    if spec.get("no_flags") and data["flags"]:
        problems.append(f"unexpected flags {data['flags']}")
    for path in spec.get("absent", []):
        if os.path.exists(path):
            problems.append(f"{path} exists: the attack wrote it")
    return problems


def cleanup_attack_files():
    """Remove what attacks may have left where `process` mode (root, no uid drop) let them write."""
    for path in (str(REPO / "grader" / "_redteam_probe.txt"), "/tmp/redteam-report.json",
                 "/tmp/redteam_pickle_pwned"):
        try:
            os.unlink(path)
            RESULTS.setdefault("_left_behind", []).append(path)
        except OSError:
            pass


def record(name, mode, data, seconds, problems, left):
    RESULTS[f"{name}/{mode}"] = {
        "seconds": round(seconds, 1), "score": data.get("score"), "flags": data.get("flags"),
        "sandbox_note": data.get("sandbox_note"), "problems": problems, "survivors": left,
        "items": {t["id"]: [t["score"], t["max_score"], t["status"], t["output"][:160]] for t in data["tests"]},
        "metrics": {t["id"]: {k: v for k, v in t["metrics"].items() if k in (
            "accuracy", "accuracy_heldout", "untrained_accuracy", "buffers_only_accuracy", "params_and_buffers",
            "evidence", "embedding_dim", "psnr")}
                    for t in data["tests"] if t["metrics"]}}
    if os.environ.get("REDTEAM_RESULTS"):   # one line per case as it finishes, for long runs
        with open(os.environ["REDTEAM_RESULTS"] + "l", "a") as f:
            f.write(json.dumps({f"{name}/{mode}": RESULTS[f"{name}/{mode}"]}) + "\n")


# ------------------------------------------------------------------ every case, both sandboxes
# Every case runs in bwrap (what `--sandbox auto` picks where it works: LMS containers, CI). In `process`
# mode we run the attacks on the process boundary itself (exits, signals, memory, disk, strays, forks, the
# reply channel, output floods, hostile output files); the others are decided on the trusted side the same
# way in both modes, and running all 40 would not fit CI's time budget.
PROCESS_CASES = ["exit_at_import", "exit_mid_training", "signals_ignored_loop", "memory_bomb", "disk_bomb",
                 "threads_children", "hydra_fork", "forge_reply", "print_flood", "pickle_outputs",
                 "plant_symlinks", "hidden_usage", "root_escape"]   # root_escape: the root fallback (class 6)
RUNS = [(name, "bwrap") for name in sorted(CASES)] + [(name, "process") for name in PROCESS_CASES]


@pytest.fixture(scope="module")
def reference_scores(rubric, tmp_path_factory):
    """The reference graded once with the red-team rubric: what it must still get right after an attack."""
    report = grade(REPO / "reference", load_config(rubric, "quick"), DATA, sandbox="bwrap")
    return {t.id: t.score for t in report.tests}


def check_reference_after(rubric, reference_scores) -> list[str]:
    """Grade the reference right after an attack: nothing the attack did may change its grade."""
    report = grade(REPO / "reference", load_config(rubric, "quick"), DATA, sandbox="bwrap")
    after = {t.id: t.score for t in report.tests}
    return [f"the reference graded after the attack got {after} instead of {reference_scores}"] * \
        (after != reference_scores) + [f"the reference graded after the attack was flagged: {report.flags}"] * \
        bool(report.flags)


@pytest.mark.parametrize("name,mode", RUNS)
def test_case(name, mode, rubric, tmp_path, request, canary_and_victim):
    needs(mode)
    for path in expectation(name, mode).get("absent", []):
        assert not os.path.exists(path), f"{path} exists before the case ran"
    config = load_config(rubric, "quick")
    out = tmp_path / "redteam" / "report.json"
    cache_before, leftovers_before = cache_digest(), leftovers()
    started = time.monotonic()
    grade(submission(name, tmp_path), config, DATA, out=out, sandbox=mode)
    seconds = time.monotonic() - started
    left = wait_for_no_survivors()
    data = json.loads(out.read_text())
    problems = check_report(name, mode, data) + host_intact(canary_and_victim, cache_before, leftovers_before)
    if CASES[name].get("then_reference") and mode == "bwrap":
        problems += check_reference_after(rubric, request.getfixturevalue("reference_scores"))
    record(name, mode, data, seconds, problems, left)
    cleanup_attack_files()
    assert not left, f"processes survived the grading: {left}"
    assert seconds < MAX_GRADE_S
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the command line
def run_cli(case: Path, mode: str, out: Path, rubric: Path, **kwargs):
    cmd = [sys.executable, str(HERE / "subset_cli.py"), "grade", str(case), "--profile", "quick",
           "--out", str(out), "--config", str(rubric), "--sandbox", mode]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


@pytest.mark.parametrize("name,mode", [("write_report", "bwrap"), ("exit_at_import", "process")])
def test_cli_exit_status(name, mode, rubric, tmp_path):
    """`python -m grader grade` exits 0 and writes a valid report whatever the submission does (the
    write_report attack finds this --out path in our cmdline and tries to overwrite it)."""
    needs(mode)
    out = tmp_path / "redteam" / "report.json"
    proc = run_cli(submission(name, tmp_path), mode, out, rubric)
    stdout, stderr = proc.communicate(timeout=MAX_GRADE_S + 60)
    assert proc.returncode == 0, stderr[-2000:]
    data = json.loads(out.read_text())
    problems = check_report(name, mode, data)
    cleanup_attack_files()
    assert not problems, "\n".join(problems)
    assert data["complete"] is True
    assert not wait_for_no_survivors()


def worker_processes() -> set[int]:
    """Live processes running the worker's code (in bubblewrap or not), whoever their parent is now."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and b"worker.__main__" in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.add(int(entry))
        except OSError:
            continue
    return {pid for pid in found if _alive(pid)}


@pytest.mark.parametrize("mode", MODES)
def test_sigterm_leaves_a_valid_report(mode, tmp_path):
    """SIGTERM to the grader during MNIST training, three times in a row as a Ray worker's child gets it when
    the worker is SIGKILLed: exit 130, a valid report with what finished, the rest marked error naming the
    signal, and no worker left running (the later signals once cut the clean-up short and left the workers
    running as the sandbox uid, where the next grader to take it counted them as its own)."""
    needs(mode)
    rubric = write_rubric(tmp_path / "slow.yaml", mnist_steps=2000, sr_steps=3)
    out = tmp_path / "redteam" / "report.json"
    workers_before = worker_processes()
    proc = run_cli(REPO / "reference", mode, out, rubric)
    deadline = time.monotonic() + 90
    for line in proc.stderr:
        if "cnn.accuracy" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    for _ in range(3):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.02)
    proc.communicate(timeout=30)
    time.sleep(0.5)
    assert not worker_processes() - workers_before, "workers outlived the grader"
    assert proc.returncode == 130
    data = json.loads(out.read_text())
    tests = {t["id"]: t for t in data["tests"]}
    assert sorted(tests) == sorted(ITEM_IDS)
    assert data["complete"] is False
    # item groups run side by side: what finished before the signal keeps its result, the rest names it
    assert tests["cnn.accuracy"]["status"] == "error" and "SIGTERM" in tests["cnn.accuracy"]["output"]
    assert all(t["status"] == "passed" or (t["status"] == "error" and "SIGTERM" in t["output"] and not t["graded"])
               for t in tests.values()), {i: (t["status"], t["output"][:80]) for i, t in tests.items()}
    assert data["score"] == sum(t["score"] for t in data["tests"])
    time.sleep(0.5)
    assert not [p for p in survivors() if "descendant" not in p]
