"""The grader's structure: one item registry everything derives from, and imports that form a DAG."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from grader import checks, formats, items
from grader.pages import html
from grader.config import DEFAULT_CONFIG, load_config
from grader.gradebook import COLUMNS
from grader.result import STATUSES
from grader.rubric_keys import VISIBILITIES
from grader.sandbox import MODES

PACKAGE = Path(__file__).resolve().parent.parent / "grader"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every grader module `path` imports, at the top or inside a function (both can close a cycle).
    `from pkg import sub` depends on the module pkg.sub; `from pkg import name` on pkg itself."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("grader")}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            if target.startswith("grader"):
                for alias in node.names:
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    return found


def grader_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path, set(modules)) if m in modules and m != name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, stack + [nxt])):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [node])):
            return cycle
    return None


def test_grader_imports_form_a_dag():
    graph = grader_graph()
    assert "grader.oracle" in graph["grader.data"] and "grader.items" in graph["grader.checks"]  # real edges seen
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_every_item_is_scored_by_exactly_one_group_module():
    assert tuple(checks.GROUPS) == items.GROUPS
    owned = [i for g in items.GROUPS for i in items.items_of(g)]
    assert sorted(owned) == sorted(items.ITEM_IDS) and len(owned) == len(set(owned))
    for spec in items.ITEMS:
        assert spec.id in items.owners_of(spec.evidence)
        assert spec.file in items.SUBMISSION_FILES


def test_the_rubric_the_schema_and_the_gradebook_use_the_registry():
    config = load_config(DEFAULT_CONFIG, "quick")
    assert [i.id for i in config.items] == list(items.ITEM_IDS)
    assert {i.id for i in config.items if i.threshold} == set(items.TRAINED_IDS)
    schema = json.loads((PACKAGE / "schemas" / "report.schema.json").read_text())
    assert schema["$defs"]["item"]["properties"]["id"]["enum"] == list(items.ITEM_IDS)
    assert COLUMNS[1:1 + len(items.ITEM_IDS)] == items.ITEM_IDS
    # the other enums of the report schema are the one declaration of each concept
    item = schema["$defs"]["item"]["properties"]
    assert tuple(item["status"]["enum"]) == STATUSES
    assert tuple(item["visibility"]["enum"]) == VISIBILITIES
    assert tuple(schema["properties"]["sandbox"]["enum"]) == tuple(m for m in MODES if m != "auto")   # resolved
    for per_status in (formats.STATUS_LABELS, formats.STATUS_ICONS, html.COLORS, html.TINTS):
        assert tuple(per_status) == STATUSES


def test_no_item_id_is_spelled_outside_the_registry_and_the_checks():
    """Pages, formats, calibration and similarity ask grader/items.py (label, unit, metric, ...): a new item then
    needs no edit there, and none silently leaves it out."""
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, items.ITEM_IDS)) + r")(?![\w])")
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "items.py" or rel.startswith("checks/"):   # the registry and the scoring code
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        spelled += [f"{rel}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and pattern.search(node.value)]
    assert not spelled, "\n".join(spelled)


def test_worker_tasks_named_by_the_registry_exist_in_the_worker():
    """The trusted side never imports the worker (it imports torch): compare the task names by reading it."""
    tasks = next(node for node in ast.walk(ast.parse((PACKAGE / "worker" / "tasks.py").read_text()))
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TASKS")
    names = {k.value for k in tasks.value.keys}
    evidence_tasks = {spec.evidence for spec in items.ITEMS if spec.group != "shuffle"} | {"shuffle"}
    assert evidence_tasks <= names


def test_the_code_hash_covers_grading_code_only():
    """A fix to scoring or the worker regrades a class on the next batch; a change to the pages does not."""
    from grader import provenance
    names = {p.relative_to(PACKAGE).parts[0] for p in PACKAGE.rglob("*.py")}
    assert provenance.NOT_GRADING <= names | {"templates"}, provenance.NOT_GRADING - names   # no stale entries
    for deciding in ("checks", "worker", "sandbox", "items.py", "config.py", "orchestrator.py", "oracle.py"):
        assert deciding in names and deciding not in provenance.NOT_GRADING


def test_every_platform_is_declared_whole_in_one_place():
    """grader/lms.py declares each platform with all its parts; the CLI, finalize and package only ask it."""
    import inspect
    from grader import lms, package
    from grader.templates import text as template_text
    assert set(lms.PLATFORMS) == {"gradescope", "prairielearn", "github"}
    for platform in lms.PLATFORMS.values():
        assert platform.results and all(f.accepts and f.fallback for f in platform.results), platform.name
        assert platform.memory_mb > 0 and 0 < platform.cpus and platform.max_timeout_s > 0
        assert (PACKAGE / "templates" / platform.templates).is_dir()
        builder = getattr(package, platform.builder)
        assert callable(builder) and {"out", "config_path", "profile", "timeout"} <= set(
            inspect.signature(builder).parameters)
        if platform.footprint_run:
            assert platform.footprint_run in json.loads(template_text("footprint.json"))["runs"]
    assert set(lms.FORMATS) == {"json", "gradescope", "prairielearn", "junit", "github", "github-result", "csv",
                                "csv-row"}
    assert set(lms.RESULT_FORMATS) == {f.name for p in lms.PLATFORMS.values() for f in p.results}
    for fmt in lms.FORMAT.values():   # every renderer is a function of formats.py
        assert fmt.renderer.__module__ == "grader.formats" and fmt.renderer.__name__.startswith("as_")


def test_no_module_keeps_its_own_per_platform_table():
    """The old tables and if-chains (a FORMATS tuple in finalize/formats, `fmt == "gradescope"`, `platform is
    GRADESCOPE`, target string lists) would let a platform be half-added: only grader/lms.py names them."""
    from grader import lms
    names = set(lms.RESULT_FORMATS) | set(lms.PLATFORMS)   # the platforms' names (json, csv: plain words too)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "lms.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(c, ast.Constant) and c.value in names
                                                     for c in [node.left, *node.comparators]):
                found.append(f"{rel}:{node.lineno}: compares with a format or platform name")
            elif isinstance(node, ast.Compare) and any(isinstance(op, ast.Is) for op in node.ops) and any(
                    isinstance(c, ast.Name) and c.id in {"GRADESCOPE", "PRAIRIELEARN", "GITHUB_CLASSROOM"}
                    for c in node.comparators):
                found.append(f"{rel}:{node.lineno}: `is` a platform")
            elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and sum(
                    isinstance(e, ast.Constant) and e.value in names for e in node.elts) >= 2:
                found.append(f"{rel}:{node.lineno}: a list of formats or platforms")
            elif isinstance(node, ast.Dict) and sum(
                    isinstance(k, ast.Constant) and k.value in names for k in node.keys) >= 2:
                found.append(f"{rel}:{node.lineno}: a table keyed by format or platform")
    assert not found, "\n".join(found)
