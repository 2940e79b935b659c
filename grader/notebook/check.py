"""`check()`: grade the notebook you are working in, from inside it, and see the result under the cell.

    from grader.notebook import check
    check()          # every item
    check("shuffle") # one group: shuffle (a few seconds), cnn or sr (these train a model)

It runs the official grader on the notebook's code (`python -m grader grade <notebook>`, a separate process,
so the verdicts are exactly those of `grade`), shows a progress line while it runs, then the student page.
On a kernel with CUDA (Colab with a GPU) it grades with the `full` profile, else with `quick`, and says which.

Which notebook: the one the kernel runs, found by
- Colab: the notebook as the editor holds it, asked of the Colab frontend
  (`google.colab._message.blocking_request("get_ipynb")`): exactly the code the student sees, saved or not;
- Jupyter (Notebook 7, JupyterLab, VS Code): the file the kernel was started for (`__session__`, set by
  recent ipykernel, or JPY_SESSION_NAME from jupyter_server, or VS Code's `__vsc_ipynb_file__`). This is the
  notebook *as saved*: save it (Ctrl+S) before checking.
- or given: `check(notebook="practical.ipynb")`.
Like `pytest grader`, it runs the student's own code on their own machine without a sandbox (`--sandbox
none`): the verdicts do not depend on the sandbox. The grader uses the data in GRADER_DATA_DIR (`python -m grader data download` once) and the rubric in
GRADER_CONFIG (default: the grading.yaml it ships with).
"""
from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..config import DEFAULT_CONFIG
from ..items import GROUPS, SPECS
from ..result import Report, read_report


class NotebookNotFound(RuntimeError):
    """check() could not tell which notebook it runs in."""


@dataclass
class Checked:
    """What check() returns: the report, with a one-line repr (the page itself is already displayed)."""
    report: Report
    profile_note: str

    def __repr__(self) -> str:
        return f"<check: {self.report.score:g}/{self.report.max_score:g}, {self.profile_note}>"


def check(group: str | None = None, notebook: str | os.PathLike | None = None,
          out: str | os.PathLike | None = None) -> Checked:
    """Grade this notebook's code (or one group of items) with the official grader; show the result inline.
    `out`: also keep the JSON report there."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"check({group!r}): the groups are {', '.join(map(repr, GROUPS))}, or check() for all")
    profile, profile_note = profile_here()
    show = Display()
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        source = current_notebook(Path(tmp)) if notebook is None else Path(notebook)
        report_path = Path(out) if out else Path(tmp) / "report.json"
        command = [sys.executable, "-m", "grader", "grade", str(source), "--profile", profile, "--sandbox", "none",
                   "--out", str(report_path), "--format", "json"]
        if group is not None:
            command += ["--config", str(rubric_of_group(group, Path(tmp)))]
        show.progress(f"grading {'the ' + group + ' items of ' if group else ''}{source.name} ({profile_note})")
        log = run_showing_progress(command, show)
        if not report_path.is_file():
            show.error(f"the grader stopped before writing a report:\n{log[-3000:]}")
            raise RuntimeError("the grader wrote no report (its output is shown above)")
        report = read_report(report_path)
        show.page(report, source.name, profile_note)   # in here: the group's rubric holds the thresholds drawn
    return Checked(report, profile_note)


def profile_here() -> tuple[str, str]:
    """The profile for this kernel, and how to say it: `full` with CUDA, as the official grade, else `quick`."""
    import torch
    if torch.cuda.is_available():
        return "full", "profile full, on this kernel's GPU, as the official grade"
    return "quick", "profile quick: no GPU on this kernel, so a CPU estimate; the official grade uses full on a GPU"


def rubric_of_group(group: str, folder: Path) -> Path:
    """The rubric in use (GRADER_CONFIG, else grading.yaml) with only `group`'s items."""
    path = Path(os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG)
    raw = yaml.safe_load(path.read_text())
    raw["items"] = [item for item in raw["items"] if SPECS[item["id"]].group == group]
    target = folder / f"rubric-{group}.yaml"
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def current_notebook(folder: Path) -> Path:
    """The notebook this kernel runs (see the module's docstring); a Colab notebook is written into `folder`."""
    colab = colab_notebook()
    if colab is not None:
        path = folder / "colab.ipynb"
        path.write_text(json.dumps(colab))
        return path
    namespace = {}
    try:
        from IPython import get_ipython
        namespace = getattr(get_ipython(), "user_ns", None) or {}
    except ImportError:
        pass
    candidates = (namespace.get("__session__"), os.environ.get("JPY_SESSION_NAME"), namespace.get("__vsc_ipynb_file__"))
    for candidate in candidates:
        if candidate and str(candidate).endswith(".ipynb") and Path(candidate).is_file():
            return Path(candidate)
    raise NotebookNotFound("check() could not tell which notebook it runs in (no __session__, JPY_SESSION_NAME "
                           "or Colab frontend here): name it, as in check(notebook=\"practical.ipynb\")")


def colab_notebook() -> dict | None:
    """The notebook as Colab's editor holds it, or None outside Colab. (Untested here: no Colab in CI.)"""
    try:
        from google.colab import _message
    except ImportError:
        return None
    reply = _message.blocking_request("get_ipynb", request="", timeout_sec=60)
    return reply.get("ipynb") if isinstance(reply, dict) else None


def run_showing_progress(command: list[str], show: "Display") -> str:
    """Run the grader, showing its latest progress line; return everything it printed."""
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if "[" in line and "]" in line and "/" in line:   # ProgressPrinter's "item [####    ] 3/10 ..."
                show.progress(line.strip())
    return "".join(lines)


class Display:
    """One output area under the cell, updated in place; plain text outside IPython."""

    def __init__(self):
        self.started = time.monotonic()
        try:
            from IPython.display import HTML, display
            self.html = HTML
            self.handle = display(HTML(""), display_id=True)
        except ImportError:
            self.html, self.handle = None, None

    def _show(self, markup: str, text: str) -> None:
        if self.handle is not None:
            self.handle.update(self.html(markup))
        else:
            print(text, file=sys.stderr)

    def progress(self, text: str) -> None:
        elapsed = f"{time.monotonic() - self.started:.0f} s"
        self._show(f"<pre>{html.escape(text)}   ({elapsed})</pre>", f"{text} ({elapsed})")

    def error(self, text: str) -> None:
        self._show(f"<pre style='color:#b00'>{html.escape(text)}</pre>", text)

    def page(self, report: Report, name: str, profile_note: str) -> None:
        from ..pages import thresholds
        from ..pages.student import render_student_page
        from ..progress import score_table
        page = render_student_page(report, name, thresholds.scales(report.config.get("path") or None, report.profile))
        head = f"<p><b>{report.score:g} / {report.max_score:g}</b> ({html.escape(profile_note)})</p>"
        frame = (f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:720px;border:1px '
                 f'solid #ccc"></iframe>')
        self._show(head + frame, score_table(report))
