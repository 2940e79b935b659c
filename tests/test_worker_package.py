"""The worker package on the torch installed here: its torch compatibility checks, a real protocol round trip
started exactly as the sandbox starts it, tamper reports, and its isolation from the trusted `grader` package.

CI runs this file (with test_optim.py) a second time on the newest torch pyproject.toml allows, so a torch
that moves a private API the worker uses fails here, by name, before it grades anyone wrongly.
"""
from __future__ import annotations

import ast
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "grader" / "worker"
# The start command the sandbox uses (its contract with this package: see grader/worker/__main__.py).
WORKER_START = "import sys; sys.path[:0] = [sys.argv.pop(1)]; from worker.__main__ import main; main()"
GRADER_TRAP = "import os\nos._exit(17)   # the worker imported `grader`: it must never reach the trusted side\n"
TAMPERING = {
    "traced_call replaced": ("import sys\nsys.modules['worker.tracing'].traced_call = "
                             "lambda fn, *args: (fn(*args), [], True)\n", "worker.tracing.traced_call"),
    "shuffle kernel re-registered": ("import torch, torch.nn.functional as F\n_lib = torch.library.Library('aten', "
                                     "'IMPL')\n_lib.impl('pixel_shuffle', lambda x, r: x, 'CPU')\n",
                                     "the torch pixel_shuffle call log"),
}


def workspace(tmp_path: Path, pixel_shuffle: str) -> Path:
    """What the sandbox prepares: worker/ (the package's flat files), submission/, in/, out/; and here also
    a `grader` package on the worker's path that kills it if imported."""
    folder = tmp_path / "workspace"
    (folder / "worker").mkdir(parents=True)
    for path in PACKAGE.glob("*.py"):
        shutil.copy(path, folder / "worker" / path.name)
    for name in ("submission", "in", "out", "grader"):
        (folder / name).mkdir()
    (folder / "submission" / "pixel_shuffle.py").write_text(pixel_shuffle)
    (folder / "grader" / "__init__.py").write_text(GRADER_TRAP)
    return folder


class Worker:
    """The trusted side of the protocol, as bare as it can be: token, ready, one request at a time."""

    def __init__(self, folder: Path):
        read_fd, write_fd = os.pipe()
        self.printed = folder.parent / "printed.txt"
        env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8", "GRADER_THREADS": "1",
               "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        with open(self.printed, "wb") as printed:
            self.proc = subprocess.Popen([sys.executable, "-I", "-B", "-c", WORKER_START, str(folder), str(write_fd)],
                                         cwd=folder, env=env, stdin=subprocess.PIPE, stdout=printed,
                                         stderr=subprocess.STDOUT, pass_fds=(write_fd,))
        os.close(write_fd)
        self.replies, self.buffer, self.token, self.next_id = os.fdopen(read_fd, "rb", buffering=0), b"", "t0ken", 0
        self.send({"token": self.token})
        assert self.receive() == {"ready": True}

    def send(self, message: dict) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def receive(self, timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.replies], [], [], max(0.0, deadline - time.monotonic()))
            chunk = self.replies.read(1 << 16) if ready else None
            if not chunk:
                if chunk is None:
                    self.proc.kill()
                why = f"no reply within {timeout_s} s" if chunk is None else "the reply pipe closed"
                raise AssertionError(f"{why} (worker exit status {self.proc.wait(30)}); it printed:\n"
                                     f"{self.printed.read_text()[-3000:]}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        assert message.pop("token") == self.token, message
        return message

    def call(self, task: str, **fields) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "task": task, **fields})
        while "progress" in (message := self.receive()):
            assert message["id"] == self.next_id, message
        assert message["id"] == self.next_id, message
        return message

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)


def shuffle_cases(folder: Path) -> tuple[list[dict], list[torch.Tensor]]:
    """Two pixel_shuffle cases (one a non-contiguous view) as .npy inputs, with torch's answers."""
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((2, 12, 5, 7), dtype=np.float32), rng.standard_normal((1, 18, 4, 3), dtype=np.float32)]
    cases, expected = [], []
    for k, (x, factor, transposed) in enumerate(zip(inputs, (2, 3), (False, True))):
        stored = np.ascontiguousarray(x.swapaxes(-1, -2)) if transposed else x
        np.save(folder / "in" / f"x{k}.npy", stored, allow_pickle=False)
        cases.append({"input": f"in/x{k}.npy", "factor": factor, "transposed": transposed})
        expected.append(F.pixel_shuffle(torch.from_numpy(x), factor))
    return cases, expected


def test_torch_compat_checks_pass_and_restore_torch_state():
    code = ("import torch\nflags = lambda: (torch.are_deterministic_algorithms_enabled(), "
            "torch.is_deterministic_algorithms_warn_only_enabled())\nbefore = flags()\n"
            "from grader.worker import torch_compat\nprint(before == flags() == (False, False))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, f"on torch {torch.__version__}:\n{run.stderr}"
    assert run.stdout.split() == ["True"], "importing torch_compat left torch's determinism flags changed"


@pytest.mark.parametrize("break_torch,api", [
    ("del torch._C._set_deterministic_algorithms", "torch._C._set_deterministic_algorithms"),
    ("from torch.utils._python_dispatch import TorchDispatchMode as M\n"
     "M.__init_subclass__ = classmethod(lambda cls: setattr(cls, '__torch_dispatch__', lambda *a: None))",
     "_should_skip_dynamo"),
])
def test_torch_compat_names_torch_version_and_api_when_one_changed(break_torch, api):
    code = f"import torch\n{break_torch}\nfrom grader.worker import torch_compat"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    last_line = run.stderr.strip().splitlines()[-1]
    assert run.returncode != 0 and last_line.startswith("grader.worker.torch_compat.TorchCompatError"), run.stderr
    assert f"torch {torch.__version__}" in last_line and api in last_line, last_line


def test_protocol_round_trip_on_reference_shuffle(tmp_path):
    folder = workspace(tmp_path, (ROOT / "reference" / "pixel_shuffle.py").read_text())
    cases, expected = shuffle_cases(folder)
    worker = Worker(folder)
    reply = worker.call("shuffle", fn="pixel_shuffle", cases=cases)
    assert reply["ok"] and "tampered" not in reply, reply
    for entry, want in zip(reply["result"]["cases"], expected):
        got = np.load(folder / entry["output"], allow_pickle=False)
        assert torch.equal(torch.from_numpy(got), want), "the worker's output is not the reference's shuffle"
        assert entry["einops"] and "pixel_shuffle" not in entry["ops"], entry
    module_case = dict(cases[0], grad_weight="in/w.npy")
    np.save(folder / "in" / "w.npy", np.ones(tuple(expected[0].shape), np.float32), allow_pickle=False)
    reply = worker.call("shuffle", fn="PixelShuffle", cases=[module_case])
    grad = np.load(folder / reply["result"]["cases"][0]["grad"], allow_pickle=False)
    assert reply["ok"] and grad.shape == (2, 12, 5, 7) and (grad == 1).all(), reply
    assert worker.call("no_such_task")["error"].endswith("unknown worker task 'no_such_task'")
    assert worker.close() == 0


@pytest.mark.parametrize("attack", sorted(TAMPERING))
def test_tampering_is_reported_by_name(tmp_path, attack):
    patch, name = TAMPERING[attack]
    folder = workspace(tmp_path, patch + (ROOT / "reference" / "pixel_shuffle.py").read_text())
    cases, _ = shuffle_cases(folder)
    worker = Worker(folder)
    reply = worker.call("shuffle", fn="pixel_shuffle", cases=cases)
    assert not reply["ok"] and name in reply["tampered"], reply
    assert "replaced parts of the grader's worker" in reply["error"] and name in reply["error"]
    worker.close()


def test_package_imports_nothing_but_itself_relatively_and_no_torch_at_package_import():
    files = sorted(PACKAGE.glob("*.py"))
    assert [p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and p.suffix != ".py"] == [], \
        "the sandbox copies only the package's flat *.py files"
    siblings = {p.stem for p in files}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                root = name.split(".")[0]
                assert root not in ("grader", "worker", *siblings), \
                    f"{path.name}:{node.lineno} imports {name}: inside the package only relative imports"
    run = subprocess.run([sys.executable, "-c", "import sys, grader.worker; print('torch' in sys.modules)"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.stdout.split() == ["False"], run.stderr
