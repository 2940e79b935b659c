"""Fake worker programs for the sandbox tests: plain Python that speaks the worker protocol, no torch.

FAKE_WORKER reads the token line, says it is ready, then for each request runs the request's `code` (with
`req`, `send`, `replies` and `token` in scope) and replies {"id", "ok": True, "result": result}.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import require_system
from grader.sandbox import WorkerProgram, bwrap_works

FAKE_WORKER = b'''
import json, os, sys, time
replies = os.fdopen(int(sys.argv[-1]), "w", buffering=1)
token = json.loads(sys.stdin.readline())["token"]
def send(message):
    replies.write(json.dumps({**message, "token": token}) + "\\n")
send({"ready": True})
for line in sys.stdin:
    req = json.loads(line)
    scope = {"req": req, "send": send, "replies": replies, "token": token, "result": None}
    exec(req["code"], scope)
    send({"id": req["id"], "ok": True, "result": scope["result"]})
'''
FAKE = WorkerProgram({"fake.py": FAKE_WORKER}, ("fake.py",))
# A program that never says it is ready.
NEVER_READY = WorkerProgram({"fake.py": b"import time\ntime.sleep(600)\n"}, ("fake.py",))



def need_mode(mode: str) -> None:
    """Skip a bwrap test where bubblewrap does not work, unless CI demands every system dependency."""
    if mode == "bwrap":
        require_system(bwrap_works(), "bubblewrap (a bwrap that can create namespaces)", "apt-get install bubblewrap")


def processes_named(name: str) -> list[int]:
    """Live (not zombie) processes whose comm is `name`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if comm == name and state != "Z":
                found.append(int(entry))
    return found


def wait_until(condition, limit_s: float = 5.0) -> bool:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
