"""What the static check looks for (data only; scan.py applies it).

Two kinds of finding. *Certain*: code that reaches torch's own shuffle (pixel_shuffle.py only), or that can
hide what ran from the worker's tracer or forge what the worker reports: other processes and threads, the
interpreter's frames and object graph, the dispatch-mode stack, the worker's own modules, code built at run
time, raw files and fds, edits to library modules. Honest einops or CNN code needs none of these in the code
the grader runs. *Notes*: unusual but possibly honest things an instructor may want to look at.

Paths are qualified names as the code reaches them, however aliased: `F.pixel_shuffle` after
`import torch.nn.functional as F` is "torch.nn.functional.pixel_shuffle". An import only binds a name (honest
files import pickle or pathlib for a training script the grader never runs); what counts is a *use* of it in
code the grader runs.
"""
from __future__ import annotations

SHUFFLE_NAMES = frozenset({"pixel_shuffle", "pixel_unshuffle", "PixelShuffle", "PixelUnshuffle"})

_PROCESSES = "runs code in another process or thread, where the grader cannot see what it computes"
_FRAMES = "reaches into the interpreter's frames or objects (the grader's worker is in the same process)"
_DYNAMIC = "builds or loads code at run time, which the grader cannot check"
_FILES = "reads or writes files or file descriptors directly (the grader's inputs, outputs and reply channel)"
_DISPATCH = "reaches torch's dispatcher internals (where the grader traces which torch operations ran)"
_WORKER = "reaches the grader's own worker code"

# Qualified-name prefixes: importing or using anything under one is a certain finding.
ESCAPE_PREFIXES: dict[str, str] = {
    **dict.fromkeys(("subprocess", "multiprocessing", "concurrent", "threading", "_thread", "asyncio", "pty",
                     "torch.multiprocessing", "torch.utils.data", "os.fork", "os.forkpty", "os.posix_spawn",
                     "os.posix_spawnp", "os.system", "os.popen", "os.register_at_fork"), _PROCESSES),
    **{f"os.{name}": _PROCESSES for name in ("spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve",
                                             "spawnvp", "spawnvpe", "execl", "execle", "execlp", "execlpe",
                                             "execv", "execve", "execvp", "execvpe")},
    **dict.fromkeys(("gc", "inspect", "traceback", "ctypes", "_ctypes", "cffi", "sys._getframe",
                     "sys._current_frames", "sys.modules", "sys.settrace", "sys.setprofile", "sys.gettrace",
                     "sys.getprofile", "sys.exc_info", "sys.exception", "sys.last_traceback", "sys.meta_path",
                     "sys.path_hooks", "sys.path_importer_cache", "sys.monitoring", "sys.stdin", "dis", "pdb",
                     "bdb", "faulthandler", "tracemalloc"), _FRAMES),
    **dict.fromkeys(("importlib", "imp", "runpy", "code", "codeop", "pickle", "_pickle",
                     "marshal", "dill", "cloudpickle", "copyreg", "zipimport", "pkgutil", "types", "torch.jit",
                     "torch.compile", "torch.export", "torch.fx", "torch.hub", "torch.package", "torch.load",
                     "torch.utils.cpp_extension", "builtins.eval", "builtins.exec", "builtins.compile",
                     "builtins.__import__", "builtins.breakpoint", "builtins.globals", "builtins.locals",
                     "builtins.vars"), _DYNAMIC),
    **dict.fromkeys(("io", "pathlib", "shutil", "tempfile", "mmap", "fcntl", "socket", "codecs", "fileinput",
                     "builtins.open", "torch.save", "torch.from_file", "numpy.load", "numpy.save",
                     "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.loadtxt",
                     "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.lib", "numpy.ctypeslib",
                     "numpy.f2py", "numpy.distutils", "gzip.open", "gzip.GzipFile", "bz2.open",
                     "bz2.BZ2File", "lzma.open", "lzma.LZMAFile", "zipfile", "tarfile", "glob", "os.listdir",
                     "os.scandir", "os.walk", "urllib", "http", "requests"), _FILES),
    **{f"os.{name}": _FILES for name in ("write", "writev", "pwrite", "pwritev", "read", "readv", "pread",
                                         "preadv", "open", "openpty", "fdopen", "dup", "dup2", "pipe",
                                         "pipe2", "sendfile", "splice", "memfd_create", "mkfifo", "mknod",
                                         "symlink", "link", "rename", "renames", "replace", "remove",
                                         "unlink", "rmdir", "removedirs", "chmod", "chown", "truncate",
                                         "ftruncate", "copy_file_range", "eventfd", "fchdir", "chdir")},
    **dict.fromkeys(("torch.ops", "torch.library", "torch.overrides", "torch.utils._python_dispatch",
                     "torch.autograd.graph"), _DISPATCH),
    **dict.fromkeys(("worker", "tracing", "tamper", "tasks", "student", "training", "torch_compat", "grader",
                     "__main__"), _WORKER),
}
PRIVATE_OF = ("torch", "einops", "numpy")   # torch._C, einops._backends, ...: internals, never needed here

# Attribute names that are certain findings on any object, however it was obtained.
ESCAPE_ATTRS: dict[str, str] = {
    **dict.fromkeys(("f_back", "f_globals", "f_locals", "f_code", "f_builtins", "f_trace", "tb_frame",
                     "tb_next", "gi_frame", "cr_frame", "ag_frame", "gi_code", "cr_code", "_getframe",
                     "_current_frames", "get_objects", "get_referrers", "get_referents", "setprofile",
                     "settrace"), _FRAMES),
    **dict.fromkeys(("fork", "forkpty", "posix_spawn", "posix_spawnp", "register_at_fork"), _PROCESSES),
    **dict.fromkeys(("_disable_current_modes", "_pop_mode", "_push_mode", "_get_current_dispatch_mode",
                     "_get_current_dispatch_mode_stack", "_pop_mode_temporarily", "_set_torch_function_mode",
                     "__torch_dispatch__", "__torch_function__"), _DISPATCH),
    **dict.fromkeys(("SHUFFLE_LOG", "traced_call", "OpRecorder", "install_shuffle_log", "shuffle_probe",
                     "logged_pixel_shuffle", "logged_pixel_unshuffle", "tampered"), _WORKER),
}
INTERNALS = "reaches interpreter internals through a double-underscore name"
COMPUTED = "looks attributes up by a name computed at run time, which the grader cannot check"
PATCHES = "edits a library at run time (the grader's checks and tracer use those libraries too)"
OTHER_FILE = "the submission's other file, which is graded on its own"
ALLOWED_DUNDER_ATTRS = frozenset({"__init__", "__name__", "__class__", "__qualname__", "__module__", "__version__"})
ALLOWED_DUNDER_NAMES = frozenset({"__name__", "__class__", "__debug__", "__file__", "__all__", "__version__",
                                  "__author__"})
ASSIGNABLE_DUNDER_NAMES = frozenset({"__all__", "__version__", "__author__"})   # not __name__: see the main guard
SUBMISSION_MODULES = frozenset({"model", "pixel_shuffle"})
ATTRIBUTE_BUILTINS = frozenset({"getattr", "setattr", "delattr", "hasattr"})   # fine only with a constant name
ATTRGETTERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
# Decorators that never call the function they wrap at import: a self-test wearing one stays unreached.
PASSIVE_DECORATORS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.enable_grad", "functools.lru_cache",
                                "functools.cache", "functools.wraps", "builtins.staticmethod", "builtins.classmethod",
                                "builtins.property", "pytest.fixture", "typing.overload"})

PAYLOAD_NOTE_BYTES = 4 * 1024   # constant data in the code the grader runs: honest files have well under 1 KB


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def escape_reason(path: str) -> str | None:
    """Why using `path` is a certain finding, from its longest listed prefix; None if it is not one."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        reason = ESCAPE_PREFIXES.get(".".join(parts[:n]))
        if reason:
            return reason
    return None
