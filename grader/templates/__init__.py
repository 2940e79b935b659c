"""The scripts and files `python -m grader package` ships, kept as real files next to this module.

Each file under grader/templates/ is what lands in a package, with named variables written ``@NAME@``
(upper case, digits, underscores). `fill` substitutes them strictly: a variable the template uses but the
caller did not give, or one the caller gave that the template does not use, is an error, so a renamed
variable or a typo can never ship a half-filled script. Conditional parts (the data download step, the
leaderboard) are variables too, never edits of the text after filling.
"""
from __future__ import annotations

import re
from importlib import resources

VARIABLE = re.compile(r"@([A-Z][A-Z0-9_]*)@")


class TemplateError(ValueError):
    """A template and the values given for it do not match."""


def text(name: str) -> str:
    """The raw template `name` (a path relative to grader/templates/, e.g. "gradescope/setup.sh")."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def variables(name: str) -> set[str]:
    return set(VARIABLE.findall(text(name)))


def fill(name: str, values: dict[str, object]) -> str:
    """Template `name` with every @NAME@ replaced by str(values[NAME])."""
    template = text(name)
    used = set(VARIABLE.findall(template))
    problems = [f"{label}: {', '.join(sorted(names))}" for label, names in
                (("no value for", used - values.keys()), ("values not used by the template", values.keys() - used))
                if names]
    if problems:
        raise TemplateError(f"template {name}: {'; '.join(problems)}")
    return VARIABLE.sub(lambda m: str(values[m.group(1)]), template)


def fill_from(name: str, known: dict[str, object]) -> str:
    """Template `name` filled from `known`, a superset of what it uses (the values of one package); a
    variable the template uses that is not known is an error."""
    return fill(name, {k: v for k, v in known.items() if k in variables(name)})
