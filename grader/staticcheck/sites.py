"""Judging one site of code the grader runs, against rules.py: a name, an attribute, a call (getattr, setattr,
operator.attrgetter with constant or computed names), a def of an escape name, an assignment to a library's
attribute, a string constant. Every finding goes to `found(node, kind, text, unit)`; scan.py decides which
sites are walked and which entry points a finding counts against.
"""
from __future__ import annotations

import ast

from .rules import (ALLOWED_DUNDER_ATTRS, ALLOWED_DUNDER_NAMES, ASSIGNABLE_DUNDER_NAMES, ATTRGETTERS,
                    ATTRIBUTE_BUILTINS, COMPUTED, ESCAPE_ATTRS, INTERNALS, OTHER_FILE, PATCHES, PRIVATE_OF,
                    SHUFFLE_NAMES, SUBMISSION_MODULES, escape_reason, is_dunder)


class SiteRules:
    """The site judgments of a Scan (scan.py), which provides: names (names.Names), parents (node id -> parent),
    units, check_torch_shuffle, own_modules, einops_names, einops_units, notes, payload_bytes, found() and
    _is_einops()."""

    # ------------------------------------------------------------------ one site
    def _site(self, node, unit: str) -> None:
        if isinstance(node, ast.Name):
            self._name(node, unit)
        elif isinstance(node, ast.Attribute):
            self._attribute(node, unit)
        elif isinstance(node, ast.Call):
            self._call(node, unit)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ESCAPE_ATTRS:
            self.found(node, "escape", f"defines {node.name}: {ESCAPE_ATTRS[node.name]}", unit)
        elif isinstance(node, ast.MatchClass):
            for attr in node.kwd_attrs:
                self._attr_name(node, attr, unit, base_is_self=False)
        elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
            self._library_edit(node, node.value, unit)
        elif isinstance(node, ast.Constant) and id(node) not in self.units.docstrings:
            self._constant(node)

    def _name(self, node: ast.Name, unit: str) -> None:
        loaded = isinstance(node.ctx, ast.Load)
        if is_dunder(node.id) and node.id not in (ALLOWED_DUNDER_NAMES if loaded
                                                        else ASSIGNABLE_DUNDER_NAMES):
            self.found(node, "escape", f"uses {node.id}: {INTERNALS}", unit)
        if not loaded:
            self._attr_name(node, node.id, unit, base_is_self=True)
            return
        paths = self.names.resolve(node)
        if not self._is_base(node):
            self._paths(node, paths, unit)
        if self._is_einops(paths) or node.id in self.einops_names:
            self.einops_units.add(unit)
        parent = self.parents.get(id(node))
        called = isinstance(parent, ast.Call) and parent.func is node
        if not called and {f"builtins.{b}" for b in ATTRIBUTE_BUILTINS} & paths:
            self.found(node, "escape", f"passes {node.id} around: {COMPUTED}", unit)

    def _attribute(self, node: ast.Attribute, unit: str) -> None:
        if is_dunder(node.attr) and node.attr not in ALLOWED_DUNDER_ATTRS:
            self.found(node, "escape", f"uses .{node.attr}: {INTERNALS}", unit)
        if not isinstance(node.ctx, ast.Load):
            self._library_edit(node, node.value, unit)
        paths = self.names.resolve(node)
        if paths:
            if not self._is_base(node):
                self._paths(node, paths, unit)
            if self._is_einops(paths):
                self.einops_units.add(unit)
        else:
            base = node.value
            self._attr_name(node, node.attr, unit,
                            base_is_self=isinstance(base, ast.Name) and base.id in ("self", "cls"))

    def _call(self, node: ast.Call, unit: str) -> None:
        func = self.names.resolve(node.func)
        builtin = next((b for b in ATTRIBUTE_BUILTINS if f"builtins.{b}" in func), None)
        if builtin:
            name = node.args[1] if len(node.args) >= 2 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self.found(node, "escape", f"calls {builtin} with a computed name: {COMPUTED}", unit)
                return
            if builtin in ("setattr", "delattr"):
                self._library_edit(node, node.args[0], unit)
            paths = self.names.resolve(node) if builtin == "getattr" else \
                frozenset(f"{p}.{name.value}" for p in self.names.resolve(node.args[0]))
            if paths:
                self._paths(node, paths, unit)
            else:
                self._attr_name(node, name.value, unit, base_is_self=isinstance(node.args[0], ast.Name)
                                and node.args[0].id in ("self", "cls"))
        elif func & ATTRGETTERS:
            for arg in node.args:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    self.found(node, "escape", f"uses operator.attrgetter with a computed name: {COMPUTED}",
                               unit)
                    continue
                for part in arg.value.split("."):
                    self._attr_name(node, part, unit, base_is_self=False)

    def _is_base(self, node) -> bool:
        """The `torch` of `torch.nn`: the longer path is judged at the attribute."""
        parent = self.parents.get(id(node))
        return isinstance(parent, ast.Attribute) and parent.value is node

    # ------------------------------------------------------------------ rules
    def _paths(self, node, paths, unit: str) -> None:
        for path in sorted(paths):
            parts = path.split(".")
            if self.check_torch_shuffle and parts[0] == "torch" and SHUFFLE_NAMES & set(parts[1:]):
                self.found(node, "torch_shuffle", f"reaches torch's own {path}", unit)
            reason = escape_reason(path)
            if not reason and parts[0] in PRIVATE_OF and \
                    any(p.startswith("_") and not is_dunder(p) for p in parts):
                reason = f"reaches {parts[0]}'s private internals"
            if not reason and parts[0] in SUBMISSION_MODULES and parts[0] not in self.own_modules:
                reason = f"{parts[0]}.py is {OTHER_FILE}"
            if reason:
                self.found(node, "escape", f"uses {path}: {reason}", unit)

    def _attr_name(self, node, attr: str, unit: str, base_is_self: bool = False) -> None:
        if attr in ESCAPE_ATTRS:
            self.found(node, "escape", f"uses .{attr}: {ESCAPE_ATTRS[attr]}", unit)
        if self.check_torch_shuffle and attr in SHUFFLE_NAMES and not base_is_self:
            self.found(node, "torch_shuffle", f"reaches .{attr}, the name of torch's own shuffle, on an object the "
                                              f"grader cannot identify", unit)

    def _library_edit(self, node, base, unit: str) -> None:
        for path in sorted(self.names.resolve(base)):
            if path.split(".")[0] not in self.own_modules:
                self.found(node, "escape", f"changes {path}: {PATCHES}", unit)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, (str, bytes)):
            self.payload_bytes += len(value.encode() if isinstance(value, str) else value)
            if isinstance(value, str) and (value in SHUFFLE_NAMES or value in ESCAPE_ATTRS):
                self.notes.add(f"line {node.lineno}: the string {value!r}")
        elif isinstance(value, (int, float, complex)):
            self.payload_bytes += 8
