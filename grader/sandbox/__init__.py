"""Start worker processes isolated from the grader and enforce limits on them from outside.

Modes (modes.py): `none` (a plain child process: laptops), `process` (python -I, clean env, own session,
rlimits, non-root uid when we are root, private cwd), `bwrap` (process + bubblewrap: no network, own PID
namespace, read-only binds of only the interpreter, site-packages and the private folder; /tmp and /dev/shm
are folders inside the private one, so the disk watchdog counts them).
Deadlines, the memory cap and the disk cap are enforced by this process (watchdog.py; the worker cannot opt
out); whatever the worker started is killed when its session ends (reaper.py): its process group, every
descendant re-parented to us (the grader makes itself a child subreaper when it starts its first worker),
and in `process` mode as root every process of the sandbox uid.

    workspace.py  the private folder: layout, arrays in and out by directory fd, read-only parts
    tree.py       size and deletion of a folder tree at any depth (fd-relative, iterative)
    program.py    which program the worker runs (default_program(): the grader's worker)
    launch.py     command line per mode, environment, rlimits and uid drop
    channel.py    the token protocol on the reply pipe      output.py  the tail of what the worker prints
    watchdog.py   deadline, memory, disk                    reaper.py  finding and killing the process tree
    memory.py     what the worker's processes hold, memfds and tmpfs files included
    session.py    WorkerSession, composing them
"""
from .errors import WorkerFailure
from .limits import Limits
from .modes import MODES, SANDBOX_UID, bwrap_works, resolve_mode, sandbox_note, sandbox_uid
from .program import WorkerProgram, default_program, package_program, script_program
from .session import WorkerSession

__all__ = ["MODES", "SANDBOX_UID", "sandbox_uid", "Limits", "WorkerFailure", "WorkerProgram", "WorkerSession", "bwrap_works",
           "default_program", "package_program", "resolve_mode", "sandbox_note", "script_program"]
