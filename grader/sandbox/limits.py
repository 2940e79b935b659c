"""What a worker may use: the numbers every part of the sandbox reads."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Limits:
    memory_mb: int = 6144
    output_kb: int = 64          # the tail of what the worker prints that a report keeps, per task
    threads: int = 2
    startup_s: float = 180       # interpreter + torch import, before any student code: not the item's time
    disk_mb: int = 1024          # files the worker may keep in its private folder (and its /tmp, /dev/shm)
    max_files: int = 100_000     # files and folders there: bounds the time one look at the folder takes
    use_cuda: bool = False
    extra_ro: list[str] = field(default_factory=list)   # more paths bwrap binds read-only (e.g. a venv)
