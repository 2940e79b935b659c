"""How a worker is started: command lines per mode, environment, rlimits, and the worker-program contract."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import MODES, SANDBOX_UID, Limits, WorkerSession, bwrap_works, package_program, resolve_mode
from grader.sandbox import launch
from grader.sandbox.program import PACKAGE_BOOT, WORKSPACE, default_program
from grader.sandbox.reaper import become_subreaper
from sandbox_fakes import FAKE, FAKE_WORKER, need_mode

ROOT = Path("/tmp/grader-worker-x")


def test_python_command_per_mode():
    for mode in ("none", "process"):
        assert launch.command(mode, ROOT, FAKE, 9, Limits()) == [sys.executable, "-I", "-B", "fake.py", "9"]
    cmd = launch.command("bwrap", ROOT, FAKE, 9, Limits())
    assert cmd[0] == "bwrap" and cmd[-5:] == [sys.executable, "-I", "-B", "fake.py", "9"]


def test_bwrap_binds_the_folder_writable_and_the_interpreter_read_only():
    cmd = launch.bwrap_arguments(ROOT, Limits(extra_ro=["/opt/extra"]))
    pairs = {(cmd[i], cmd[i + 1], cmd[i + 2]) for i in range(len(cmd) - 2)}
    mount = launch.workspace_seen("bwrap", ROOT, Limits())
    assert ("--bind", str(ROOT), mount) in pairs and ("--chdir", mount, "--setenv") in pairs
    assert ("--bind", str(ROOT / "tmp"), "/tmp") in pairs and ("--bind", str(ROOT / "shm"), "/dev/shm") in pairs
    for path in (sys.prefix, "/usr", "/opt/extra"):
        assert ("--ro-bind-try", path, path) in pairs
    assert {"--unshare-all", "--die-with-parent", "--new-session"} <= set(cmd)
    assert cmd[cmd.index("--uid") + 1] == str(SANDBOX_UID) and cmd[cmd.index("--cap-drop") + 1] == "ALL"
    assert not any(a.startswith("/dev/nvidia") for a in cmd)


def test_the_folder_is_never_mounted_over_a_read_only_bind():
    """A venv under /work must stay visible: the folder then goes to the next free mount point."""
    for extra in (["/work/some/venv"], ["/opt/venv"], []):
        limits = Limits(extra_ro=extra)
        mount = Path(launch.workspace_seen("bwrap", ROOT, limits))
        binds = [Path(p) for p in (*launch.SYSTEM_RO, *launch.interpreter_roots(limits))]
        assert mount.is_absolute() and not any(p == mount or mount in p.parents for p in binds), (mount, binds)
    assert launch.workspace_seen("bwrap", ROOT, Limits(extra_ro=["/work/some/venv"])) != "/work"
    assert launch.workspace_seen("process", ROOT, Limits()) == str(ROOT)


def test_environment_is_clean_except_in_none_mode():
    parent = {"SECRET_TOKEN": "x", "CUDA_VISIBLE_DEVICES": "1", "HOME": "/home/me", "TMPDIR": "/home/me/tmp"}
    env = launch.environment("process", ROOT, Limits(threads=3), parent)
    assert "SECRET_TOKEN" not in env and env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["HOME"] == str(ROOT) and env["TMPDIR"] == str(ROOT / "tmp") and env["OMP_NUM_THREADS"] == "3"
    laptop = launch.environment("none", ROOT, Limits(), parent)
    assert laptop["SECRET_TOKEN"] == "x" and laptop["HOME"] == "/home/me"
    # the user's TMPDIR is not kept: a worker's temporary files stay in its folder, under its disk cap (a file
    # written to a TMPDIR set in the user's shell escaped the cap and stayed behind)
    assert laptop["TMPDIR"] == str(ROOT / "tmp")


def test_rlimits_per_mode():
    assert launch.Preexec("none", Limits()).rlimits() == {resource.RLIMIT_CORE: 0,
                                                          resource.RLIMIT_FSIZE: launch.FILE_SIZE_CAP}
    caps = launch.Preexec("process", Limits(memory_mb=1000), drop_to=SANDBOX_UID).rlimits()
    assert caps[resource.RLIMIT_AS] == (1000 + launch.AS_HEADROOM_MB) * 2**20
    assert caps[resource.RLIMIT_NPROC] == launch.NPROC_CAP
    assert resource.RLIMIT_AS not in launch.Preexec("process", Limits(use_cuda=True)).rlimits()


def test_preexec_really_applies_them_in_the_child():
    probe = ("import os, resource; print(os.getsid(0) == os.getpid(), resource.getrlimit(resource.RLIMIT_AS)[0],"
             " resource.getrlimit(resource.RLIMIT_CORE)[0])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         preexec_fn=launch.Preexec("process", Limits(memory_mb=1000))).stdout.split()
    assert out == ["True", str((1000 + launch.AS_HEADROOM_MB) * 2**20), "0"]


def test_modes_and_resolution():
    assert MODES == ("auto", "none", "process", "bwrap")
    assert resolve_mode("process") == "process"
    # auto: bubblewrap where it works, else process as root (which switches uid); else a refusal saying why
    if bwrap_works() or os.geteuid() == 0:
        assert resolve_mode("auto") == ("bwrap" if bwrap_works() else "process")
    else:
        with pytest.raises(RuntimeError, match="--sandbox auto: cannot isolate student code"):
            resolve_mode("auto")
    with pytest.raises(ValueError, match="expected one of auto, none, process, bwrap"):
        resolve_mode("docker")


def test_become_subreaper_is_explicit_and_idempotent():
    """After the call, a grandchild whose parent exits is re-parented to us (not to init)."""
    assert become_subreaper() and become_subreaper()
    child = subprocess.run([sys.executable, "-c", "import os, time\npid = os.fork()\nif pid == 0:\n"
                            "    os.closerange(0, 3)\n    time.sleep(2)\n    os._exit(0)\nprint(pid)"], capture_output=True, text=True)
    orphan = int(child.stdout)
    try:
        assert _ppid(orphan) == os.getpid()
    finally:
        os.kill(orphan, 9)
        os.waitpid(orphan, 0)


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def test_default_program_is_the_graders_worker():
    program = default_program()
    assert program is default_program()   # read once
    package = Path(launch.__file__).parents[1] / "worker"
    assert program.files == {f"worker/{p.name}": p.read_bytes() for p in package.glob("*.py")}
    assert "worker/__main__.py" in program.files and "worker/torch_compat.py" in program.files
    assert program.argv[0] == "-c" and "from worker.__main__ import main" in program.argv[1]


@pytest.mark.parametrize("mode", ["none", "process", "bwrap"])
def test_a_worker_package_runs_under_the_package_contract(tmp_path, mode):
    """package_program(): the package's *.py files in <workspace>/worker/, started by PACKAGE_BOOT with the
    folder's path as the worker sees it, then the reply fd; main() reads the fd from sys.argv[1]."""
    need_mode(mode)
    package = tmp_path / "worker"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_bytes(
        b"import json, os, sys, time\ndef main():\n    assert len(sys.argv) == 2 and sys.argv[1].isdigit(), sys.argv\n"
        b"    here = os.path.dirname(__file__)\n"
        b"    assert os.path.samefile(here, os.path.join(os.getcwd(), 'worker')), here\n"
        + FAKE_WORKER.replace(b"import json, os, sys, time\n", b"").replace(b"\n", b"\n    "))
    program = package_program(package)
    assert sorted(program.files) == ["worker/__init__.py", "worker/__main__.py"]
    assert program.argv == ("-c", PACKAGE_BOOT, WORKSPACE)
    with WorkerSession(tmp_path, mode, Limits(startup_cpu_s=20), program=program) as s:
        reply = s.call("fake", 10, code="import sys; result = sys.path[0]")
    assert reply["ok"] and reply["result"] == launch.workspace_seen(mode, s.dir, s.limits)
