"""Which program a worker runs: files copied into its private folder and the arguments after `python -I -B`.

The sandbox does not care what the program is, only that it speaks the protocol (grader/sandbox/channel.py):
read the token line from stdin, reply JSON lines carrying it on the fd number given as the LAST argument.
`default_program()` is the one place that names the grader's real worker.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parents[1]
WORKSPACE = "{workspace}"   # an argv element replaced by the private folder's path as the worker sees it
# Starts a package copied to <workspace>/worker/: its __main__.main() reads the reply fd from sys.argv[1].
PACKAGE_BOOT = "import sys; sys.path[:0] = [sys.argv.pop(1)]; from worker.__main__ import main; main()"
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$")


@dataclass(frozen=True)
class WorkerProgram:
    files: dict[str, bytes]   # relative path inside the private folder (at most one folder deep) -> content
    argv: tuple[str, ...]     # after `python -I -B`; the reply fd number is appended

    def __post_init__(self):
        for name in self.files:
            if not FILE_NAME.match(name) or ".." in name:
                raise ValueError(f"worker program file {name!r}: expected a plain relative name")

    @property
    def tops(self) -> list[str]:
        """The entries the program adds to the top of the private folder (files or one folder)."""
        return sorted({name.split("/")[0] for name in self.files})

    def arguments(self, workspace_seen: str, reply_fd: int) -> list[str]:
        return [workspace_seen if arg == WORKSPACE else arg for arg in self.argv] + [str(reply_fd)]


def script_program(path: Path) -> WorkerProgram:
    """One standalone script, run as `python -I -B <name> REPLY_FD` from the private folder."""
    return WorkerProgram({path.name: path.read_bytes()}, (path.name,))


def package_program(folder: Path) -> WorkerProgram:
    """A package whose *.py files are copied into <workspace>/worker/ and started by PACKAGE_BOOT."""
    files = {f"worker/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.py"))}
    return WorkerProgram(files, ("-c", PACKAGE_BOOT, WORKSPACE))


@functools.cache   # read once: a long run never pairs this grader with a worker edited since it started
def default_program() -> WorkerProgram:
    return package_program(GRADER_DIR / "worker")
