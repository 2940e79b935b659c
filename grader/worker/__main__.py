"""The worker process: start-up and the protocol loop it speaks with the trusted grader.

Start (grader/sandbox/launch.py): the package's files are copied into <workspace>/worker/ and the worker runs as

    python -I -B -c "import sys; sys.path[:0] = [sys.argv.pop(1)]; from worker.__main__ import main; main()" \
        <workspace> <reply_fd>

with <workspace> as its cwd, holding in/ (input arrays), out/ (output arrays) and submission/ (the student's
model.py and pixel_shuffle.py, importable as top-level modules).

Protocol: JSON objects, one per line. Requests arrive on stdin; every reply leaves on the pipe <reply_fd>,
which the worker moves to a new fd number and drops from argv before any student code runs.
  grader -> worker, first line:  {"token": str}   Sent before any student code is imported. Every message the
                                 worker sends carries it as "token", so replies a submission forges into the
                                 pipe (it can find the fd) are told apart from genuine ones.
  worker -> grader:  {"ready": true}   torch imported, instrumentation installed, no student code run yet.
  grader -> worker:  {"id": int, "task": str, "seed"?: int, "steps"?: int, ...task fields (tasks.py)}
                     Served one at a time, in order, by tasks.TASKS[task].
  worker -> grader, any number while a task runs (at most one per 0.5 s):
                     {"id": int, "progress": [done, total]}   total is the request's steps, or its case count.
  worker -> grader, once per request, last:
                     {"id": int, "ok": true, "result": {...}}   arrays as paths "out/NAME.npy"; a trained
                                                                 model as "state": [{name, file}] (state.py)
                     {"id": int, "ok": false, "error": str}     an error in the student's terms; the worker
                                                                 keeps serving (SystemExit included)
                     {"id": int, "ok": false, "error": str, "tampered": [name, ...]}
                         the submission replaced guarded parts of the worker (tamper.py) or unregistered the
                         torch shuffle log: nothing from this request is trusted. "tampered" names what changed.
Whatever the worker prints (stdout/stderr) is not protocol; the grader keeps its tail for the student.

Trust model. Everything in this process is the student's. Student code runs here with the same rights as this
file: a stack walk from any function reaches main()'s frame (`send`, `token`, `req`), gc finds the `send`
closure and the reply pipe, /proc/self/mem and ctypes reach everything, and whatever this package checks
(tamper.py, the tracer, the token) can be undone by code that knows how. The token and tamper.py stop
accidents and naive forgeries only. So nothing this process says about *what ran* is trusted alone:
- outputs are judged on the trusted side against answers this process never receives (torch's shuffle from
  the oracle cache, MNIST test and held-out labels, HR images);
- *what ran* is decided first by the static check of the submitted files (grader/staticcheck, read on the
  trusted side before any of it runs): code that reaches torch's own shuffle, or that could hide what ran or
  forge a reply (frames, gc, sys.modules, the dispatch stack, this package, other processes or threads, raw
  fds and files, computed getattr, eval, edits to libraries) scores 0 on its own word; the trace sent from
  here can only take credit away, never give it;
- a trained model leaves as its state (parameters and buffers as plain arrays), which the trusted side counts
  against the budget, and is evaluated by a *fresh* worker that rebuilds it from that state
  (grader/checks/trained.py), on test images mixed with held-out images no worker gets labels for;
- sizes, losses, and what was printed are used for messages only.
"""
from __future__ import annotations

import json
import os
import sys
import time

import torch

from . import tamper, tasks, tracing
from .student import explain
from .training import configure_torch

SHUFFLE_LOG_NAME = "the torch pixel_shuffle call log"


def open_reply_channel():
    """The reply pipe, moved off the fd number named in argv, which is then forgotten."""
    reply_fd = int(sys.argv[1])
    moved = os.dup(reply_fd)
    os.close(reply_fd)
    del sys.argv[1:]
    return os.fdopen(moved, "w", buffering=1)


PRELOADED = ("einops", "einops.layers.torch", "torch.nn", "torch.nn.functional", "torch.utils.data", "math",
             "numpy")   # what submissions import, loaded while the files are readable (see drop_privileges)


def drop_privileges() -> None:
    """Become the sandbox uid now, if the grader says so (GRADER_DROP_TO_UID=uid:nproc): it runs as root and
    that uid cannot read this interpreter or torch, so it could not start them itself. All three uids and
    the groups go; a worker that stays root exits rather than run student code."""
    spec = os.environ.pop("GRADER_DROP_TO_UID", "")
    if not spec:
        return
    import importlib
    import resource
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import einops   # its torch backend loads on first use: use it once while its files are readable (a
    einops.rearrange(torch.zeros(2, 3), "a b -> b a")   # neutral pattern: this file ships in the handout)
    uid, nproc = (int(v) for v in spec.split(":"))
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        sys.exit("the grader's worker could not drop root privileges; not running student code")


def main() -> None:
    replies = open_reply_channel()
    token = json.loads(sys.stdin.readline() or "{}").get("token", "")
    sys.path.insert(0, os.path.abspath("submission"))
    os.makedirs("out", exist_ok=True)
    configure_torch(int(os.environ.get("GRADER_THREADS", "1")))
    shuffle_log = tracing.install_shuffle_log()  # noqa: F841  (kept alive: the kernels live as long as it does)
    # Everything the checks after each task use is bound here, before student code can patch a module.
    snapshot, log_works, check = tamper.snapshot(), tracing.shuffle_probe(), tamper.tampered
    run_task, dumps, monotonic = tasks.TASKS.get, json.dumps, time.monotonic
    drop_privileges()   # before "ready": no student code has run yet

    def send(message):
        replies.write(dumps({**message, "token": token}) + "\n")

    send({"ready": True})
    for line in sys.stdin:
        req = json.loads(line)
        torch.manual_seed(req.get("seed", 0))
        last = [0.0]

        def progress(done, _id=req["id"], _total=req.get("steps") or len(req.get("cases", [])) or 1):
            if monotonic() - last[0] > 0.5 or done >= _total:   # the last one always: "20/20", not "1/20"
                last[0] = monotonic()
                send({"id": _id, "progress": [done, _total]})

        try:
            task = run_task(req["task"])
            if task is None:
                raise ValueError(f"the grader asked for an unknown worker task {req['task']!r}")
            reply = {"id": req["id"], "ok": True, "result": task(req, progress)}
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit from student code too: report it, keep serving
            reply = {"id": req["id"], "ok": False, "error": explain(exc, req.get("device", "cpu"))}
        changed = check(snapshot)
        if not log_works():   # rebinding tracing.SHUFFLE_LOG is a change `check` sees
            changed.append(SHUFFLE_LOG_NAME)
        if changed:
            reply = {"id": req["id"], "ok": False, "tampered": changed,
                     "error": f"the submission replaced parts of the grader's worker ({', '.join(changed[:5])}); "
                              f"nothing it returned is trusted"}
        send(reply)


if __name__ == "__main__":   # also `python -m worker <reply_fd>`, run in the workspace
    main()
