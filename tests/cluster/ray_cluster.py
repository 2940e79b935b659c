"""A real local Ray cluster for the tests: `ray start --head --block` on 127.0.0.1 with fake GPUs.

Started in the foreground (`--block`) so that stopping it is one SIGTERM to the process this module
started; `ray stop` would end every Ray process on the machine, other people's included. Its temp folder
is private and short (Ray's socket paths must fit in 107 bytes).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RayCluster:
    address: str
    proc: subprocess.Popen
    temp_dir: Path

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start(env: dict[str, str], cpus: int = 3, gpus: int = 3) -> RayCluster:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    log = open(temp_dir / "head.log", "w")
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--node-ip-address",
           "127.0.0.1", "--port", str(port), "--num-cpus", str(cpus), "--num-gpus", str(gpus),
           "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp_dir)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    cluster = RayCluster(f"127.0.0.1:{port}", proc, temp_dir)
    deadline = time.monotonic() + 120
    while "Ray runtime started" not in (temp_dir / "head.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            cluster.stop()
            raise RuntimeError(f"ray start failed:\n{(temp_dir / 'head.log').read_text()[-3000:]}")
        time.sleep(0.5)
    return cluster


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
