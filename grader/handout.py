"""The students' starter repository: `python -m grader package handout --out DIR`.

It holds what students need to do the practical and grade it themselves: the `student/` stubs, the grader
(with its pytest plugin, so `pytest grader` works), the rubric, the dataset manifests, pyproject.toml and a
students' README. It never holds the solution or anything derived from it: no reference/, tests/ (they
contain working shuffles), bench/, the instructor-only parts of the grader (packaging, calibration), and
the rubric's calibration keeps only the thresholds unless `keep_evidence` (the reference's measured runs,
means and notes are the instructor's). tests/test_handout.py lists the files and greps them for the
reference's code.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from . import __version__
from .bundle import PackageError, data_files, grader_files
from .config import CALIBRATION_MARKER, REPO_ROOT, Config, load_config
from .rubric_keys import RELEASED
from .templates import fill

THRESHOLD_KEYS = ("zero_at", "full_at", "baseline", "device", "seeds", "torch", "date")
MARKER = ".grader-handout"   # marks a folder as a handout, so a rebuild may replace it


def public_rubric(text: str, keep_evidence: bool = False) -> str:
    """grading.yaml's text with the calibration section cut down to the thresholds (comments kept)."""
    if keep_evidence or CALIBRATION_MARKER not in text:
        return text
    head = text.split(CALIBRATION_MARKER)[0].rstrip() + "\n\n"
    calibration = (yaml.safe_load(text) or {}).get("calibration") or {}
    public = {profile: {item: {k: v for k, v in values.items() if k in THRESHOLD_KEYS}
                        for item, values in (items or {}).items()}
              for profile, items in calibration.items()}
    body = yaml.safe_dump({"calibration": public}, sort_keys=False, default_flow_style=False)
    return head + CALIBRATION_MARKER + "\n" + body


def item_table(config: Config) -> str:
    rows = ["| item | what is checked | points | official result shown |", "|---|---|---|---|"]
    rows += [f"| `{i.id}` | {i.name} | {i.points:g} | {RELEASED[i.visibility]} |" for i in config.items]
    return "\n".join(rows)


def committed_stub(name: str) -> bytes:
    """student/<name> as committed (HEAD), never the working tree: an instructor who drafts the solution in
    student/ must not ship it. A working copy that differs from the commit stops the build, saying so."""
    relative = f"student/{name}"
    try:
        committed = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"HEAD:{relative}"], capture_output=True,
                                   check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) \
            else str(exc)
        raise PackageError(f"the handout is built from the committed {relative}, but git cannot show it "
                           f"({detail}); build the handout from a git checkout of the grader") from None
    if (REPO_ROOT / relative).read_bytes() != committed:
        raise PackageError(f"{REPO_ROOT / relative} differs from the committed stub (see `git diff {relative}`): "
                           f"the handout ships the committed stubs, so an uncommitted edit (a drafted solution?) "
                           f"is refused rather than silently left out. Commit the stub you mean to hand out, or "
                           f"restore it with `git checkout -- {relative}`, then rerun")
    return committed


def handout_files(config_path: Path, keep_evidence: bool = False) -> dict[str, bytes | str | Path]:
    rubric = public_rubric(config_path.read_text(), keep_evidence)
    config = load_config(config_path, "quick")
    files: dict[str, bytes | str | Path] = dict(grader_files(handout=True))
    files.update(data_files(include_data=False))
    files.update({f"student/{name}": committed_stub(name) for name in ("model.py", "pixel_shuffle.py")})
    files["grading.yaml"] = rubric
    files["pyproject.toml"] = REPO_ROOT / "pyproject.toml"
    files[".gitignore"] = ("__pycache__/\n*.pyc\n*.egg-info/\n.venv/\ndatasets/mnist/raw/\ndatasets/bsds300/images/\n"
                           "grading-report.json\ngrading-report.html\n")   # what the README's own steps make
    files["README.md"] = fill("handout/README.md", {"MAX_SCORE": f"{config.max_score:g}", "VERSION": __version__,
                                                   "ITEM_TABLE": item_table(config)})
    from .notebook.starter import NAME, starter_text   # the exercises as a notebook, with check() cells
    files[NAME] = starter_text()
    files[MARKER] = f"grader {__version__}\n"
    return files
