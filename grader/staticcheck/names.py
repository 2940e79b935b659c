"""What a name or attribute in a submission file may refer to, as qualified paths ("torch.nn.functional").

Scopes as Python has them: module, functions (lambdas, comprehensions folded into theirs) and class bodies
(seen by their own statements, not by their methods); `global` sends a function's assignments to the module.
A name's paths are the union over its bindings (imports, plain assignments of something resolvable), so an
alias taken in any branch counts. A module-level name whose last top-level binding is a def or class is
the file's own (so `def pixel_shuffle` after `from torch... import pixel_shuffle` shadows it, as at run time).
Unbound names are builtins ("builtins.open") or, after `from M import *`, "M.name".

>>> import ast
>>> tree = ast.parse("import torch.nn.functional as F\\nG = F\\nx = getattr(G, 'pixel_shuffle')")
>>> sorted(Names(tree).resolve(tree.body[2].value))
['torch.nn.functional.pixel_shuffle']
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

BUILTINS = frozenset(dir(builtins))
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class Binding:
    line: int
    value: ast.AST | str | None   # an expression, an imported path, or None (unknown: an argument, a loop target)
    own: bool                     # a def or class of this file
    top_level: bool               # a statement directly in the module body


class Names:
    def __init__(self, tree: ast.Module):
        self.bindings: dict[int, dict[str, list[Binding]]] = {id(tree): {}}
        self.parent: dict[int, int | None] = {id(tree): None}
        self.is_class: dict[int, bool] = {id(tree): False}
        self.scope_of: dict[int, int] = {}
        self.stars: list[str] = []
        self.module = id(tree)
        self._resolving: set[tuple[int, str]] = set()
        for statement in tree.body:
            self._node(statement, id(tree), set(), top=True)

    # ------------------------------------------------------------------ building
    def _bind(self, scope: int, name: str, binding: Binding, globals_: set[str]):
        target = self.module if name in globals_ else scope
        self.bindings[target].setdefault(name, []).append(binding)

    def _targets(self, target, value, scope, globals_, line, top):
        if isinstance(target, ast.Name):
            self._bind(scope, target.id, Binding(line, value, False, top), globals_)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and \
                len(value.elts) == len(target.elts) else [None] * len(target.elts)
            for t, v in zip(target.elts, values):
                self._targets(t, v, scope, globals_, line, top)
        elif isinstance(target, ast.Starred):
            self._targets(target.value, None, scope, globals_, line, top)

    def _visit(self, node, scope: int, globals_: set[str]):
        for child in ast.iter_child_nodes(node):
            self._node(child, scope, globals_, top=False)

    def _node(self, node, scope: int, globals_: set[str], top: bool):
        self.scope_of[id(node)] = scope
        if not isinstance(node, SCOPES):
            self._statement(node, scope, globals_, top)
            self._visit(node, scope, globals_)
            return
        if not isinstance(node, ast.Lambda):
            self._bind(scope, node.name, Binding(node.lineno, None, True, top), globals_)
        for part in self._outside(node):     # decorators, defaults, bases run in the outer scope
            self._node(part, scope, globals_, top=False)
        inner = id(node)
        self.bindings[inner], self.parent[inner] = {}, scope
        self.is_class[inner] = isinstance(node, ast.ClassDef)
        inner_globals: set[str] = set()
        if not isinstance(node, ast.ClassDef):
            args = node.args
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None:
                    self._bind(inner, arg.arg, Binding(node.lineno, None, False, False), set())
            inner_globals = {n for s in ast.walk(node) if isinstance(s, ast.Global) for n in s.names}
        for statement in node.body if isinstance(node.body, list) else [node.body]:
            self._node(statement, inner, inner_globals, top=False)

    @staticmethod
    def _outside(node) -> list:
        parts = list(getattr(node, "decorator_list", []))
        if isinstance(node, ast.ClassDef):
            return parts + node.bases + node.keywords
        args = node.args
        return parts + args.defaults + [d for d in args.kw_defaults if d is not None]

    def _statement(self, node, scope, globals_, top):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                self._bind(scope, name, Binding(line, alias.name if alias.asname else name, False, top), globals_)
        elif isinstance(node, ast.ImportFrom):
            module = "<relative>" * bool(node.level) + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    self.stars.append(module)
                else:
                    self._bind(scope, alias.asname or alias.name, Binding(line, f"{module}.{alias.name}", False,
                                                                          top), globals_)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._targets(target, node.value, scope, globals_, line, top)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)):
            value = node.value if isinstance(node, ast.AnnAssign) else None
            self._targets(node.target, value, scope, globals_, line, top)
        elif isinstance(node, ast.NamedExpr):
            self._targets(node.target, node.value, scope, globals_, line, top)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._targets(node.optional_vars, None, scope, globals_, line, top)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(scope, node.name, Binding(line, None, False, top), globals_)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self._bind(scope, node.name, Binding(line, None, False, top), globals_)

    # ------------------------------------------------------------------ resolving
    def chain(self, scope: int) -> list[int]:
        """The scopes a load in `scope` looks in, innermost first (class bodies only for their own code)."""
        out, first = [], True
        while scope is not None:
            if first or not self.is_class[scope]:
                out.append(scope)
            first, scope = False, self.parent[scope]
        return out

    def resolve_name(self, name: str, scope: int) -> frozenset[str]:
        for s in self.chain(scope):
            found = self.bindings[s].get(name)
            if found:
                if s == self.module:
                    top = [b for b in found if b.top_level]
                    if top and top[-1].own and all(b.line <= top[-1].line for b in found):
                        return frozenset()
                return frozenset().union(*(self._binding(s, name, b) for b in found))
        if name in BUILTINS:
            return frozenset({f"builtins.{name}"})
        return frozenset(f"{m}.{name}" for m in self.stars)

    def _binding(self, scope: int, name: str, b: Binding) -> frozenset[str]:
        if b.own or b.value is None:
            return frozenset()
        if isinstance(b.value, str):
            return frozenset({b.value})
        key = (id(b.value), name)
        if key in self._resolving:       # x = x.y and other cycles: what is known so far
            return frozenset()
        self._resolving.add(key)
        try:
            return self.resolve(b.value)
        finally:
            self._resolving.discard(key)

    def resolve(self, node: ast.AST) -> frozenset[str]:
        scope = self.scope_of.get(id(node), self.module)
        if isinstance(node, ast.Name):
            return self.resolve_name(node.id, scope)
        if isinstance(node, ast.Attribute):
            return frozenset(f"{p}.{node.attr}" for p in self.resolve(node.value))
        if isinstance(node, ast.Call) and "builtins.getattr" in self.resolve(node.func) and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            return frozenset(f"{p}.{node.args[1].value}" for p in self.resolve(node.args[0]))
        return frozenset()
