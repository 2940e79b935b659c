"""WorkerFailure: the one exception the sandbox raises about a worker, and the wording of a worker's death."""
from __future__ import annotations

import signal

KINDS = ("timeout", "memory", "disk", "protocol", "crash", "starved")
MACHINES_FAULT = ("starved",)   # kinds never charged to the student: the item is regraded, or left ungraded


class WorkerFailure(Exception):
    """The worker died, hung, blew its memory or disk, or broke the protocol. `kind` (one of KINDS) says
    which; `output` is what it printed during the failed task (filled in by the session)."""

    def __init__(self, kind: str, message: str):
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind, self.output = kind, ""


def death(returncode: int | None, via_bwrap: bool) -> WorkerFailure:
    """The failure for a worker that closed its reply channel and exited with `returncode` (None: still
    running after the channel closed)."""
    code = returncode
    if code is None:
        return WorkerFailure("crash", "closed the grader's reply channel")
    if via_bwrap and 128 < code < 128 + 65:   # bwrap reports its child's death by signal N as 128+N
        try:
            code = -signal.Signals(code - 128)
        except ValueError:
            pass
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {"SIGKILL": " (often the out-of-memory killer)", "SIGSEGV": " (a crash in native code)",
               "SIGXFSZ": " (wrote a file larger than allowed)"}.get(name, "")
        return WorkerFailure("crash", f"the process was killed by {name}{why}")
    return WorkerFailure("crash", f"the process exited with status {code} (sys.exit, os._exit or a crash)")
