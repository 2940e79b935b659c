"""What a worker may use: the numbers every part of the sandbox reads."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Limits:
    memory_mb: int = 6144
    output_kb: int = 64          # the tail of what the worker prints that a report keeps, per task
    threads: int = 1             # torch's threads in a worker: fixed, so no metric depends on the machine (cpus.py)
    cpu_share: float = 1.0       # of a CPU, that each worker can expect (cpus.py): sets the wall backstop only
    startup_cpu_s: float = 60    # interpreter + torch import (about 2 CPU s), before any student code
    disk_mb: int = 1024          # files the worker may keep in its private folder (and its /tmp, /dev/shm)
    max_files: int = 100_000     # files and folders there: bounds the time one look at the folder takes
    use_cuda: bool = False
    extra_ro: list[str] = field(default_factory=list)   # more paths bwrap binds read-only (e.g. a venv)
