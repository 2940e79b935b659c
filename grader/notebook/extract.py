"""From a notebook's code cells, the two graded files: what defines the graded names, and what that needs.

A notebook holds the practical's definitions among everything else a student runs: data loading, training
loops, plots, `!pip install`, `%matplotlib`. The grader runs none of that. Starting from the names it calls
(staticcheck.POLICIES: pixel_shuffle, pixel_unshuffle, PixelShuffle -> pixel_shuffle.py; CNN, Net ->
model.py) it keeps, transitively, the top-level statements that bind what those definitions use:

- imports, functions and classes, and simple constants (`HIDDEN = 64`, `SIZES = (8, 16)`);
- an `if` / `try` made only of those (`try: import einops` / `except ImportError: ...`), kept whole;
- never anything else: an expression, a loop, an assignment from a call (`model = CNN()`), `if __name__ ==
  "__main__":`. An import a definition never uses is not kept, so matplotlib or tqdm in a notebook cost nothing.

When a name is bound more than once, the last binding in the notebook (top to bottom) counts, as when the
cells run in order. Each extracted line remembers its cell and line there, so what the grader says about
the extracted files can point into the notebook (see lines.py).

>>> from grader.notebook.read import CodeCell, Notebook
>>> nb = Notebook("n.ipynb", (CodeCell(1, "import torch\\nimport matplotlib.pyplot as plt"),
...                          CodeCell(2, "%matplotlib inline\\ndef pixel_shuffle(x, r):\\n    return torch.ones(1)"),
...                          CodeCell(4, "plt.plot(pixel_shuffle(1, 2))")))
>>> print(extract(nb).files["pixel_shuffle.py"].source, end="")
# pixel_shuffle.py, extracted by the grader from n.ipynb (cells 1, 2)
import torch
def pixel_shuffle(x, r):
    return torch.ones(1)
>>> extract(nb).files["pixel_shuffle.py"].origins[3]
(2, 2)
"""
from __future__ import annotations

import ast
import builtins
import difflib
import importlib.util
import re
import symtable
from dataclasses import dataclass, field

from ..items import SUBMISSION_FILES
from ..staticcheck import MAX_SOURCE_BYTES, POLICIES
from .read import CodeCell, Notebook

GRADED = {name: POLICIES[name].entries for name in SUBMISSION_FILES}
ALL_GRADED = frozenset(n for names in GRADED.values() for n in names)
OWN_MODULES = {name.removesuffix(".py") for name in SUBMISSION_FILES}
BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__"}
IPYTHON_LINE = re.compile(r"^\s*([!%?]|[\w.]+\s*=\s*[!%])|\?\s*$")   # `!pip`, `%time`, `x = !ls`, `obj?`
DEFINES = re.compile(r"^\s*(?:async\s+def|def|class)\s+(\w+)", re.M)
KEPT_KINDS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Unit:
    """One top-level statement of a cell."""
    cell: int
    first: int                 # its first line in the cell (decorators included), 1-based
    lines: tuple[str, ...]
    binds: frozenset[str]
    uses: frozenset[str]       # module-level names it reads (builtins excluded)
    kept: bool                 # the grader may run it: import, def, class, simple constant, or an if/try of those
    module: str = ""           # for an import: the module it imports from
    star: bool = False
    stage: int = 2             # the extracted file's order: imports (0), constants (1), definitions (2)

    @property
    def where(self) -> str:
        return f"cell {self.cell}, line {self.first}"

    @property
    def summary(self) -> str:
        text = self.lines[0].strip()
        return text if len(text) <= 60 else text[:57] + "..."

    @property
    def local_import(self) -> bool:
        """An import of a file next to the notebook (the practical's own, or anything not installed here)."""
        top = self.module.split(".")[0]
        return bool(self.module) and (top in OWN_MODULES or importlib.util.find_spec(top) is None)


@dataclass
class ExtractedFile:
    source: str = ""
    origins: dict[int, tuple[int, int]] = field(default_factory=dict)   # file line -> (cell, line in cell)
    cells: tuple[int, ...] = ()


@dataclass
class Extraction:
    notebook: str
    files: dict[str, ExtractedFile]
    missing: dict[str, str] = field(default_factory=dict)     # graded name -> why no kept cell defines it
    problems: dict[str, list[str]] = field(default_factory=dict)   # graded name -> what the student must know
    notes: list[str] = field(default_factory=list)            # about the notebook as a whole
    fatal: str = ""                                           # the notebook could not be read: nothing ran
    sha256: str = ""                                          # of the notebook's bytes, as read
    size: int = 0

    def about(self, name: str) -> list[str]:
        return self.problems.get(name, [])


def extract(notebook: Notebook) -> Extraction:
    units: list[Unit] = []
    unreadable: dict[int, str] = {}    # cell -> its syntax error
    defined_in_unreadable: dict[str, list[int]] = {}
    for cell in notebook.cells:
        parsed = _parse_cell(cell)
        if isinstance(parsed, str):
            unreadable[cell.number] = parsed
            for name in DEFINES.findall(cell.source):
                defined_in_unreadable.setdefault(name, []).append(cell.number)
        else:
            units += parsed
    result = Extraction(notebook.name, {}, notes=list(notebook.notes))
    graded_defined = {}   # graded name -> the file it goes to, when the notebook itself defines it
    for file, names in GRADED.items():
        graded_defined.update({n: file for n in names if (u := _last_kept(units, n)) and not u.local_import})
    for file, names in GRADED.items():
        result.files[file] = _resolve(file, names, units, graded_defined, result, defined_in_unreadable, unreadable)
    graded_cells = {c for name, cells in defined_in_unreadable.items() if name in ALL_GRADED for c in cells}
    for number in sorted(set(unreadable) - graded_cells):
        result.notes.append(f"cell {number} is not valid Python ({unreadable[number]}); the grader skipped it "
                            f"(it defines none of the graded names)")
    return result


def _resolve(file: str, roots: tuple[str, ...], units: list[Unit], graded_defined: dict[str, str],
             result: Extraction, defined_in_unreadable: dict[str, list[int]], unreadable: dict[int, str]) -> ExtractedFile:
    """The units file needs, from its graded names down through every name they use."""
    chosen: dict[int, Unit] = {}
    imports_from_own: dict[str, str] = {}   # name -> module, for graded names of the other file
    for root in roots:
        found = _last_kept(units, root)
        if found is None or found.local_import:
            result.missing[root] = _why_missing(root, units, found, defined_in_unreadable, unreadable)
            continue
        definitions = [u for u in units if root in u.binds and u.kept and not u.module]
        if len(definitions) > 1:
            result.problems.setdefault(root, []).append(
                f"`{root}` is defined {len(definitions)} times in the notebook ("
                + ", ".join(u.where for u in definitions)
                + f"); the last one, in cell {definitions[-1].cell}, is the one graded")
        todo, seen = [(root, root)], {root}
        while todo:
            name, origin = todo.pop()
            if name in graded_defined and graded_defined[name] != file:
                imports_from_own[name] = graded_defined[name].removesuffix(".py")
                continue
            unit = _last_kept(units, name)
            if unit is None:
                unkept = [u for u in units if name in u.binds]
                if unkept:
                    u = unkept[-1]
                    result.problems.setdefault(origin, []).append(
                        f"`{origin}` uses `{name}`, which is only set in {u.where} (`{u.summary}`): the grader "
                        f"keeps only imports, functions, classes and simple constants (like `{name} = 64`) from "
                        f"a notebook, never the rest, so `{name}` is undefined when `{origin}` is graded. Give "
                        f"`{name}` a constant value, or pass it as an argument")
                continue
            if unit.local_import:
                if name in roots:   # its own message is in result.missing
                    continue
                result.problems.setdefault(origin, []).append(
                    f"`{origin}` uses `{name}`, imported in {unit.where} (`{unit.summary}`) from a file next to "
                    f"your notebook that was not submitted: the grader only has the notebook. Paste the "
                    f"definition of `{name}` into a cell")
                continue
            chosen[id(unit)] = unit
            for used in sorted(unit.uses - seen):
                seen.add(used)
                todo.append((used, origin))
    if any(not _bound_anywhere(units, n) for u in chosen.values() for n in u.uses):   # from a `*` import?
        for star in (u for u in units if u.star and not u.local_import):
            chosen[id(star)] = star
    return _write(file, result.notebook, sorted(chosen.values(), key=lambda u: (u.stage, u.cell, u.first)),
                  imports_from_own)


def _why_missing(name: str, units: list[Unit], found: Unit | None, defined_in_unreadable: dict[str, list[int]],
                 unreadable: dict[int, str]) -> str:
    if found is not None:
        return (f"`{name}` is imported in {found.where} (`{found.summary}`) from a file that was not submitted: "
                f"the grader only has your notebook. Paste the definition of `{name}` into a code cell")
    if name in defined_in_unreadable:
        cell = defined_in_unreadable[name][-1]
        return (f"cell {cell} defines `{name}` but is not valid Python ({unreadable[cell]}), so the grader "
                f"could not read it. Fix that cell and run it")
    unkept = [u for u in units if name in u.binds]
    if unkept:
        return (f"`{name}` is only set in {unkept[-1].where} (`{unkept[-1].summary}`), which the grader does "
                f"not run: define `{name}` with `def` or `class` at the top level of a cell")
    known = sorted({n for u in units if u.kept for n in u.binds})
    similar = difflib.get_close_matches(name, known, n=3, cutoff=0.6) + \
        [n for n in known if n.lower() == name.lower() and n != name]
    hint = ""
    if similar:
        places = {n: next(u.where for u in reversed(units) if n in u.binds) for n in dict.fromkeys(similar)}
        hint = " Similar names it does define: " + ", ".join(f"`{n}` ({w})" for n, w in places.items()) + "."
    return (f"no code cell of your notebook defines `{name}` (at the top level of a cell, with exactly this "
            f"name).{hint}")


def _last_kept(units: list[Unit], name: str) -> Unit | None:
    for unit in reversed(units):
        if name in unit.binds and unit.kept:
            return unit
    return None


def _bound_anywhere(units: list[Unit], name: str) -> bool:
    return name in BUILTINS or any(name in u.binds for u in units)


def _write(file: str, notebook: str, units: list[Unit], imports_from_own: dict[str, str]) -> ExtractedFile:
    cells = tuple(sorted({u.cell for u in units}))
    out = ExtractedFile(cells=cells)
    lines = [f"# {file}, extracted by the grader from {notebook} (cells {', '.join(map(str, cells)) or 'none'})"]
    for name, module in sorted(imports_from_own.items()):
        lines.append(f"from {module} import {name}")
    for unit in units:
        for offset, text in enumerate(unit.lines):
            lines.append(text)
            out.origins[len(lines)] = (unit.cell, unit.first + offset)
    out.source = "\n".join(lines) + "\n"
    return out


def python_of(source: str) -> str:
    """A cell's text as Python: IPython's own syntax (`%magic`, `!shell`, `x = !cmd`, `obj?`) becomes `pass` on
    the same line, so line numbers stay the cell's; a cell magic (`%%time`) makes the whole cell not Python.
    Line by line rather than IPython's transformers: the grading machine need not have IPython installed."""
    try:
        ast.parse(source)
        return source
    except (SyntaxError, ValueError):
        pass
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join(re.match(r"\s*", line)[0] + "pass" if IPYTHON_LINE.search(line) else line
                     for line in source.split("\n"))


def _parse_cell(cell: CodeCell) -> list[Unit] | str:
    """The cell's top-level statements, or why it cannot be read (then the grader skips it)."""
    if len(cell.source) > MAX_SOURCE_BYTES:
        return f"{len(cell.source):,} characters of code, more than the {MAX_SOURCE_BYTES:,} the grader reads in a cell"
    text = python_of(cell.source)
    if not text and cell.source.strip():
        return f"a cell magic ({cell.source.lstrip().split()[0]}): its body is not run as Python"
    try:
        return _units(cell.number, text)
    except SyntaxError as exc:   # from ast.parse, or from symtable (`nonlocal` at the top level)
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _units(number: int, text: str) -> list[Unit]:
    tree = ast.parse(text)
    lines = text.split("\n")
    units = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue   # a bare string: a comment, not code
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = tuple(lines[first - 1:node.end_lineno])
        units.append(Unit(number, first, segment, frozenset(_binds(node)), _uses("\n".join(segment)),
                          _is_kept(node), _module_of(node), _is_star(node), _stage(node)))
    return units


def _stage(node: ast.stmt) -> int:
    """Where a kept statement goes in the extracted file. Each name's last binding in the notebook is kept,
    so a cell's definitions may come before the imports they need (a later cell imported torch again): the
    file puts imports first, then constants, then definitions, each in notebook order."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return 0
    if isinstance(node, (ast.If, ast.Try)):
        inner = [s for s in ast.walk(node) if isinstance(s, ast.stmt) and s is not node]
        return 0 if all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass, ast.If, ast.Try)) for s in inner) else 2
    return 1 if isinstance(node, (ast.Assign, ast.AnnAssign)) else 2


def _module_of(node: ast.stmt) -> str:
    if isinstance(node, ast.ImportFrom):
        return "." * node.level + (node.module or "")
    if isinstance(node, ast.Import):
        return node.names[0].name
    return ""


def _is_star(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)


def _is_main_guard(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Compare) and any(isinstance(n, ast.Name) and n.id == "__name__"
                                                 for n in [test.left, *test.comparators])


def _is_simple_value(node: ast.expr | None) -> bool:
    """A constant, a name, or arithmetic and containers of those: `H = 64`, `SIZES = (H, 2 * H)`, `X = torch.float32`."""
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return _is_simple_value(node.value)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_simple_value(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_simple_value(k) and _is_simple_value(v) for k, v in zip(node.keys, node.values))
    if isinstance(node, ast.UnaryOp):
        return _is_simple_value(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_simple_value(node.left) and _is_simple_value(node.right)
    return False


def _is_kept(node: ast.stmt) -> bool:
    if isinstance(node, KEPT_KINDS) or isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _is_simple_value(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.value is not None and _is_simple_value(node.value)
    if isinstance(node, ast.If):
        return not _is_main_guard(node) and all(_is_kept(s) for s in node.body + node.orelse)
    if isinstance(node, ast.Try):
        return all(_is_kept(s) for s in node.body + node.orelse + node.finalbody
                   + [s for h in node.handlers for s in h.body])
    return False


def _binds(node: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds (not inside functions or classes)."""
    if _is_main_guard(node):
        return set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    names = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            names |= _binds(child)
        elif isinstance(child, ast.ExceptHandler):
            names |= {child.name} if child.name else set()
            for s in child.body:
                names |= _binds(s)
        elif not isinstance(child, ast.expr) or isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign,
                                                                   ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            names |= {n.id for n in ast.walk(child) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}
    return names


def _uses(source: str) -> frozenset[str]:
    """Module-level names the code reads, anywhere in it (function bodies included), from Python's own
    scope analysis: a function's locals and arguments are not module names."""
    table = symtable.symtable(source, "<cell>", "exec")
    used = {s.get_name() for s in table.get_symbols()
            if s.is_referenced() and not (s.is_assigned() or s.is_imported())}
    todo = list(table.get_children())
    while todo:
        child = todo.pop()
        used |= {s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced()}
        todo += child.get_children()
    return frozenset(used - BUILTINS)
