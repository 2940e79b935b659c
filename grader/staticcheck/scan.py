"""Walk the code of a submission file that the grader runs and collect what rules.py names.

This file decides what is walked and whom a finding counts against: the units each graded entry point reaches
(units.py), the entry points bound by an import or an assignment, and the units that use einops. Judging one
site (an attribute, a name, a getattr with a constant name, an assignment to a library's attribute) is
sites.py's job.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .names import Names
from .rules import PASSIVE_DECORATORS, SHUFFLE_NAMES
from .sites import SiteRules
from .units import MODULE, reached, split


@dataclass
class Scan(SiteRules):
    entries: tuple[str, ...]
    check_torch_shuffle: bool
    own_modules: frozenset[str]                      # the submission's other file(s) this one may import
    findings: dict[tuple[int, str], tuple[str, set[str]]] = field(default_factory=dict)  # -> (kind, entries)
    notes: set[str] = field(default_factory=set)
    einops_units: set[str] = field(default_factory=set)
    payload_bytes: int = 0

    def run(self, tree: ast.Module) -> None:
        self.units, self.names = split(tree), Names(tree)
        for unit, node in self.units.decorated.items():
            if all(self._passive(d) for d in node.decorator_list):
                self.units.roots.discard(unit)
        self.reach = {e: reached(self.units, e) for e in self.entries}
        self.parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        self.einops_names = self._einops_bindings(tree)
        for node in ast.walk(tree):
            unit = self.units.owner.get(id(node))
            if unit is not None and any(unit in r for r in self.reach.values()):
                self._site(node, unit)
        for entry in self.entries:
            if entry not in self.units.defined:   # bound by an import or an assignment, not a def or class
                self._entry_binding(entry)

    def _entry_binding(self, entry: str) -> None:
        """`from torch.nn.functional import *` or `pixel_unshuffle = F.pixel_unshuffle`: the grader would
        call what that name is bound to."""
        for path in sorted(self.names.resolve_name(entry, self.names.module)):
            parts = path.split(".")
            if self.check_torch_shuffle and parts[0] == "torch" and SHUFFLE_NAMES & set(parts[1:]):
                key = (0, f"{entry} is not written in this file: it is torch's own {path}")
                self.findings.setdefault(key, ("torch_shuffle", set()))[1].add(entry)

    def _passive(self, decorator) -> bool:
        paths = self.names.resolve(decorator.func if isinstance(decorator, ast.Call) else decorator)
        return bool(paths) and all(p in PASSIVE_DECORATORS or p.startswith("pytest.mark.") for p in paths)

    def entries_of(self, unit: str) -> set[str]:
        return {e for e, r in self.reach.items() if unit in r}

    def found(self, node, kind: str, text: str, unit: str):
        key = (getattr(node, "lineno", 0), text)
        self.findings.setdefault(key, (kind, set()))[1].update(self.entries_of(unit))

    @staticmethod
    def _is_einops(paths) -> bool:
        return any(p.split(".")[0] == "einops" and not any(s.startswith("_") for s in p.split(".")) for p in paths)

    def _einops_bindings(self, tree) -> set[str]:
        """Module-level names bound to something built from einops (`shuffle = Rearrange(...)`)."""
        out = set()
        for statement in self.units.module_statements:
            if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
                if any(self._is_einops(self.names.resolve(n)) for n in ast.walk(statement.value)
                       if isinstance(n, (ast.Name, ast.Attribute))):
                    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                    out |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return out

    def einops_entries(self) -> set[str]:
        return {e for e, r in self.reach.items() if (r - {MODULE}) & self.einops_units or e in self.einops_names}
