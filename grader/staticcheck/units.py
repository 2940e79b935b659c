"""Which code of a submission file runs when the grader uses it.

A file is cut into *units*: the module unit (every statement that runs at import, class bodies and decorators
included, but not the body of `if __name__ == "__main__":`), one unit per top-level function (its body and
default values) and one per top-level class (its methods). The grader's entry points (say
`pixel_shuffle` and `PixelShuffle`) reach the module unit, their own unit, decorated functions (a decorator
may call them at import), and every unit whose name a reached unit loads. What no entry reaches (a test
function, a training script under the main guard) never runs during grading and is not judged.

>>> import ast
>>> units = split(ast.parse("def f(): g()\\ndef g(): pass\\ndef test(): h()\\nif __name__ == '__main__': test()"))
>>> sorted(reached(units, "f"))
['<module>', 'fn:f', 'fn:g']
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

MODULE = "<module>"
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match) + (
    (ast.TryStar,) if hasattr(ast, "TryStar") else ())


@dataclass
class Units:
    owner: dict[int, str] = field(default_factory=dict)        # id(node) -> the unit it runs in
    roots: set[str] = field(default_factory=lambda: {MODULE})  # units that run whatever the entry point
    defined: dict[str, set[str]] = field(default_factory=dict)  # top-level name -> its units
    loads: dict[str, set[str]] = field(default_factory=dict)    # unit -> names it loads
    docstrings: set[int] = field(default_factory=set)           # id() of docstring constants
    decorated: dict[str, ast.AST] = field(default_factory=dict)  # decorated top-level function unit -> its def
    module_statements: list[ast.stmt] = field(default_factory=list)   # run at import, in order


def is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare) or len(node.test.ops) != 1:
        return False
    sides = [node.test.left, *node.test.comparators]
    return isinstance(node.test.ops[0], ast.Eq) and \
        any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and \
        any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)


def split(tree: ast.Module) -> Units:
    units = Units()

    def own(node, unit):
        for sub in ast.walk(node):
            units.owner[id(sub)] = unit

    def docstring(body):
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            units.docstrings.add(id(body[0].value))

    def header(node: ast.AST, bodies: tuple[str, ...]):
        """A statement's own expressions run in the module unit; its nested bodies are split further."""
        units.owner[id(node)] = MODULE
        for name, value in ast.iter_fields(node):
            if name in bodies:
                continue
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, ast.AST):
                    own(part, MODULE)

    def function(node, unit: str, module_level: bool):
        header(node, ("body", "args", "returns"))   # decorators run at import, for every entry point;
        own(node.args, unit)                         # default values only matter to the function itself
        docstring(node.body)
        for statement in node.body:
            own(statement, unit)
        if module_level:
            units.defined.setdefault(node.name, set()).add(unit)
            if node.decorator_list:      # a decorator may call it at import (scan.py spares known ones)
                units.roots.add(unit)
                units.decorated[unit] = node

    def klass(node: ast.ClassDef):
        unit = f"cls:{node.name}"
        units.defined.setdefault(node.name, set()).add(unit)
        header(node, ("body",))
        docstring(node.body)
        for statement in node.body:
            if isinstance(statement, FUNCTIONS):
                function(statement, unit, module_level=False)
            else:
                own(statement, MODULE)   # a class body runs at import

    def module_level(statements):
        for statement in statements:
            if is_main_guard(statement):
                own(statement.test, MODULE)
                module_level(statement.orelse)
                continue
            units.module_statements.append(statement)
            if isinstance(statement, FUNCTIONS):
                function(statement, f"fn:{statement.name}", module_level=True)
            elif isinstance(statement, ast.ClassDef):
                klass(statement)
            elif isinstance(statement, COMPOUND):
                header(statement, ("body", "orelse", "finalbody", "handlers", "cases"))
                for name in ("body", "orelse", "finalbody"):
                    module_level(getattr(statement, name, []))
                for handler in getattr(statement, "handlers", []):
                    header(handler, ("body",))
                    module_level(handler.body)
                for case in getattr(statement, "cases", []):
                    header(case, ("body",))
                    module_level(case.body)
            else:
                own(statement, MODULE)

    docstring(tree.body)
    module_level(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) in units.owner:
            units.loads.setdefault(units.owner[id(node)], set()).add(node.id)
    return units


def reached(units: Units, entry: str) -> set[str]:
    """The units that run when the grader uses `entry` (importing the file included)."""
    seen = set(units.roots) | units.defined.get(entry, set())
    todo = list(seen)
    while todo:
        for name in units.loads.get(todo.pop(), ()):
            for unit in units.defined.get(name, ()):
                if unit not in seen:
                    seen.add(unit)
                    todo.append(unit)
    return seen
