"""A notebook as a submission, read and extracted (no grading here: tests/test_notebook_grade.py grades).

Ten awkward notebooks each get the right extraction or the right clear message; the honest corpus in
tests/notebooks/ extracts with nothing the static check objects to; messages point into cells.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from notebook_cells import DATA, PLOT, REF_MODEL, REF_SHUFFLE, SETUP, TRAIN, notebook, reference_notebook, write
from grader.notebook.extract import GRADED, extract
from grader.notebook.lines import translate
from grader.notebook.read import NotebookError, read_notebook
from grader.notebook.submission import notebook_of, prepare
from grader.staticcheck import check_source

CORPUS = Path(__file__).parent / "notebooks"
ALL_NAMES = [n for names in GRADED.values() for n in names]


def extracted(tmp_path, nb, name="hw.ipynb"):
    return extract(read_notebook(write(nb, tmp_path / name)))


def assert_clean(extraction):
    """Every graded name extracted, and the static check finds nothing in what was extracted."""
    assert extraction.missing == {}
    for file, names in GRADED.items():
        check = check_source(extraction.files[file].source.encode(), file)
        assert check.unreadable == "", check.unreadable
        assert check.findings == (), [f.text for f in check.findings]
        for name in names:
            assert f"{name}" in extraction.files[file].source


def test_reference_notebook_keeps_the_definitions_and_nothing_else(tmp_path):
    e = extracted(tmp_path, reference_notebook())
    assert_clean(e)
    for file in GRADED:
        source = e.files[file].source
        for noise in ("matplotlib", "tqdm", "TSNE", "DataLoader", "torch.save", "pip", "opt.step", "device"):
            assert noise not in source, (file, noise)
    # torch and nn: the last import of each counts, in the models cell
    assert e.files["pixel_shuffle.py"].cells == (3, 5) and e.files["model.py"].cells == (5,)
    assert "from pixel_shuffle import PixelShuffle" in e.files["model.py"].source
    # each extracted line knows its cell and line there
    lines = e.files["model.py"].source.split("\n")
    class_line = next(i for i, text in enumerate(lines, 1) if text.startswith("class CNN"))
    cell, line = e.files["model.py"].origins[class_line]
    assert cell == 5 and REF_MODEL.split("\n")[line - 1].startswith("class CNN")


def test_magics_cost_nothing(tmp_path):                                        # awkward 1
    e = extracted(tmp_path, notebook(SETUP + "\nfiles = !ls\nCNN?", REF_SHUFFLE, "%%time\nprint(1)\n",
                                     "%load_ext autoreload\n%autoreload 2\n" + REF_MODEL, TRAIN))
    assert_clean(e)
    assert e.notes == ["cell 4 is not valid Python (a cell magic (%%time): its body is not run as Python); the "
                       "grader skipped it (it defines none of the graded names)"]
    assert e.files["model.py"].origins[e.files["model.py"].source.split("\n").index("class CNN(nn.Module):") + 1][0] == 5


def test_syntax_error_in_an_unrelated_cell_is_skipped_with_a_note(tmp_path):  # awkward 2
    e = extracted(tmp_path, notebook(SETUP, REF_SHUFFLE, "for i in range(3) print(i)", REF_MODEL))
    assert_clean(e)
    assert len(e.notes) == 1 and e.notes[0].startswith("cell 4 is not valid Python (line 1: ")


def test_syntax_error_in_a_graded_cell_says_which_cell(tmp_path):
    e = extracted(tmp_path, notebook(SETUP, REF_SHUFFLE, REF_MODEL.replace("def forward(self, x: torch.Tensor):",
                                                                           "def forward(self, x: torch.Tensor)")))
    assert e.missing["CNN"].startswith("cell 4 defines `CNN` but is not valid Python (line ")
    assert e.missing["Net"].startswith("cell 4 defines `Net`")


def test_duplicate_definitions_the_last_counts_and_the_message_says_so(tmp_path):  # awkward 3
    wrong = "def pixel_shuffle(x, upscale_factor):\n    return x\n"
    e = extracted(tmp_path, notebook(SETUP, wrong, REF_SHUFFLE, REF_MODEL, wrong.replace("return x", "return x + 1")))
    assert e.about("pixel_shuffle") == ["`pixel_shuffle` is defined 3 times in the notebook (cell 3, line 1, "
                                        "cell 4, line 7, cell 6, line 1); the last one, in cell 6, is the one graded"]
    assert "return x + 1" in e.files["pixel_shuffle.py"].source
    assert e.files["pixel_shuffle.py"].source.count("def pixel_shuffle") == 1


def test_definitions_inside_if_and_try_are_kept_whole(tmp_path):              # awkward 4
    shuffle = REF_SHUFFLE.replace("from einops import rearrange\n", "try:\n    from einops import rearrange\n"
                                  "except ImportError:\n    rearrange = None\n")
    unshuffle_at = shuffle.index("def pixel_unshuffle")
    end = shuffle.index("class PixelShuffle")
    body = shuffle[unshuffle_at:end].strip("\n")
    shuffle = shuffle[:unshuffle_at] + "USE_EINOPS = True\nif USE_EINOPS:\n" + \
        "\n".join("    " + line if line else "" for line in body.split("\n")) + "\n\n\n" + shuffle[end:]
    e = extracted(tmp_path, notebook(SETUP, shuffle, REF_MODEL))
    assert_clean(e)
    source = e.files["pixel_shuffle.py"].source
    assert "if USE_EINOPS:" in source and "USE_EINOPS = True" in source and "except ImportError:" in source
    namespace = {}
    exec(compile(source, "pixel_shuffle.py", "exec"), namespace)
    assert callable(namespace["pixel_unshuffle"])


def test_hundreds_of_mb_of_outputs_are_never_held(tmp_path):                  # awkward 5
    nb = reference_notebook()
    line = "epoch 1 loss 0.123456 " * 4 + "\n"
    for cell in nb.cells[1:]:
        cell.outputs = [nbformat.v4.new_output("stream", text=line * (40 * 2**20 // len(line)))]
    path = write(nb, tmp_path / "big.ipynb")
    size = path.stat().st_size
    assert size > 200 * 2**20
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at this (big) process's, VmHWM at its own exec
    probe = ("import re, sys; from grader.notebook.read import read_notebook; "
             "from grader.notebook.extract import extract; "
             "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]); "
             "before = hwm(); e = extract(read_notebook(sys.argv[1])); assert not e.missing, e.missing; "
             "print(before, hwm())")
    before_kb, peak_kb = map(int, subprocess.run([sys.executable, "-c", probe, str(path)], check=True,
                                                 capture_output=True, text=True).stdout.split())
    grown_mb = (peak_kb - before_kb) / 1024
    print(f"{size / 2**20:.0f} MB notebook: peak RSS grew {grown_mb:.0f} MB while reading it")
    # the text once as bytes and once decoded, never the parsed outputs on top (that would be ~3x the file)
    assert grown_mb < 2.3 * size / 2**20


def test_nbformat_3_is_upgraded_and_says_so(tmp_path):                        # awkward 6
    v3 = nbformat.v3
    nb = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_text_cell("markdown", source="# old"), v3.new_code_cell(input=SETUP),
        v3.new_code_cell(input=REF_SHUFFLE, outputs=[v3.new_output("stream", output_text="x")]),
        v3.new_code_cell(input=REF_MODEL)])])
    path = tmp_path / "old.ipynb"
    path.write_text(v3.writes_json(nb))
    assert json.loads(path.read_text())["nbformat"] == 3
    e = extract(read_notebook(path))
    assert_clean(e)
    assert e.notes == ["old.ipynb is in the old nbformat 3 (Jupyter before 2015); the grader upgraded it to "
                       "version 4 to read it. Saving it again in a current Jupyter avoids this note."]
    assert e.files["model.py"].cells == (4,)


@pytest.mark.parametrize("content, message", [
    (b"import torch\ndef pixel_shuffle(x, r): ...\n",                        # awkward 7: a .py renamed
     "hw.ipynb is not a notebook: it is not valid JSON (Expecting value at line 1, column 1 of the file)"),
    (b'{"cells": [], "metadata": {}}', "hw.ipynb is JSON but not a notebook (it has no `nbformat` version)"),
    (b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
     "hw.ipynb is not a valid notebook ("),
    (json.dumps(notebook("# just notes", markdown_first=True) | {"cells": [nbformat.v4.new_markdown_cell("hi")]})
     .encode(), "hw.ipynb has no code cells (1 text cells)"),                # awkward 8
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": "# caf\u00e9",'
     ' "metadata": {}, "outputs": [], "execution_count": null}]}'.encode("latin-1"),   # awkward 10
     "hw.ipynb is not UTF-8 text (byte 101, line 1 of the file)"),
    (b'{"nbformat": 2, "cells": []}', "hw.ipynb is in nbformat 2, older than any Jupyter can convert"),
])
def test_unreadable_notebooks_get_one_clear_message(tmp_path, content, message):
    path = tmp_path / "hw.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError) as caught:
        read_notebook(path)
    assert str(caught.value).startswith(message), str(caught.value)
    folder = tmp_path / "sub"
    folder.mkdir()
    assert prepare(path, folder).fatal == str(caught.value)
    assert list(folder.iterdir()) == []   # nothing extracted, so nothing of it runs


def test_graded_name_imported_from_a_file_not_submitted(tmp_path):            # awkward 9
    e = extracted(tmp_path, notebook(SETUP, "from my_shuffle import pixel_shuffle, pixel_unshuffle",
                                     REF_SHUFFLE.split("class PixelShuffle")[0].split("def pixel_shuffle")[0]
                                     + "class PixelShuffle" + REF_SHUFFLE.split("class PixelShuffle")[1], REF_MODEL))
    assert e.missing["pixel_shuffle"] == (
        "`pixel_shuffle` is imported in cell 3, line 1 (`from my_shuffle import pixel_shuffle, pixel_unshuffle`) "
        "from a file that was not submitted: the grader only has your notebook. Paste the definition of "
        "`pixel_shuffle` into a code cell")
    assert "pixel_unshuffle" in e.missing and "PixelShuffle" not in e.missing
    assert "my_shuffle" not in e.files["pixel_shuffle.py"].source


def test_the_practicals_own_file_imported_instead_of_defined(tmp_path):
    e = extracted(tmp_path, notebook(SETUP, "from pixel_shuffle import PixelShuffle", REF_MODEL))
    assert "PixelShuffle" in e.missing
    assert e.about("Net") == ["`Net` uses `PixelShuffle`, imported in cell 3, line 1 (`from pixel_shuffle import "
                              "PixelShuffle`) from a file next to your notebook that was not submitted: the grader "
                              "only has the notebook. Paste the definition of `PixelShuffle` into a cell"]


def test_a_name_defined_nowhere_lists_similar_names(tmp_path):
    e = extracted(tmp_path, notebook(SETUP, REF_SHUFFLE.replace("def pixel_unshuffle", "def pixel_unshufle"),
                                     REF_MODEL.replace("class CNN", "class MyCNN")))
    assert e.missing["pixel_unshuffle"].startswith(
        "no code cell of your notebook defines `pixel_unshuffle` (at the top level of a cell, with exactly this "
        "name). Similar names it does define: `pixel_unshufle` (cell 3, line 19), ")
    assert "`MyCNN` (cell 4, line " in e.missing["CNN"]


def test_a_definition_using_a_value_from_a_cell_not_kept(tmp_path):
    model = REF_MODEL.replace("nn.Linear(32 * 7 * 7, 10)", "nn.Linear(32 * 7 * 7, n_classes)")
    e = extracted(tmp_path, notebook(SETUP, REF_SHUFFLE, "n_classes = len(train_set.classes)", model))
    assert e.about("CNN") == [
        "`CNN` uses `n_classes`, which is only set in cell 4, line 1 (`n_classes = len(train_set.classes)`): the "
        "grader keeps only imports, functions, classes and simple constants (like `n_classes = 64`) from a "
        "notebook, never the rest, so `n_classes` is undefined when `CNN` is graded. Give `n_classes` a "
        "constant value, or pass it as an argument"]
    assert e.about("Net") == []
    assert extracted(tmp_path, notebook(SETUP, REF_SHUFFLE, "n_classes = 10", model)).about("CNN") == []


def test_static_check_findings_point_into_the_notebook(tmp_path):
    cheat = "import torch.nn.functional as F\ndef pixel_shuffle(x, upscale_factor):\n    return F.pixel_shuffle(x, upscale_factor)\n"
    e = extracted(tmp_path, notebook(SETUP, REF_SHUFFLE, REF_MODEL, cheat))
    check = check_source(e.files["pixel_shuffle.py"].source.encode(), "pixel_shuffle.py")
    reason = translate(check.reason("pixel_shuffle"), e)
    assert "- hw.ipynb cell 5, line 3: reaches torch's own torch.nn.functional.pixel_shuffle" in reason, reason
    assert "pixel_shuffle.py line" not in reason


def test_a_folder_holding_one_notebook_is_a_notebook_submission(tmp_path):
    folder = tmp_path / "alice"
    write(reference_notebook(), folder / "practical.ipynb")
    (folder / ".ipynb_checkpoints").mkdir()
    assert notebook_of(folder) == folder / "practical.ipynb"
    (folder / "model.py").write_text(REF_MODEL)   # the .py files, when there, are what is graded
    assert notebook_of(folder) is None


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.ipynb")), ids=lambda p: p.name)
def test_honest_notebooks_have_no_false_positives(path):
    assert_clean(extract(read_notebook(path)))


def test_the_corpus_is_there():
    assert len(list(CORPUS.glob("*.ipynb"))) >= 4


def test_bulk_download_keeps_a_students_notebook_under_a_fixed_name(tmp_path):
    from grader.layouts import NOTEBOOK, discover
    write(reference_notebook(), tmp_path / "dl" / "alice" / "My Practical (1).ipynb")
    write(reference_notebook(), tmp_path / "dl" / "carol" / ".ipynb_checkpoints" / "hw-checkpoint.ipynb")
    (tmp_path / "dl" / "alice" / "notes.txt").write_text("hi")
    write(reference_notebook(), tmp_path / "dl" / "bob" / "practical.ipynb")
    (tmp_path / "dl" / "bob" / "model.py").write_text(REF_MODEL)
    (tmp_path / "dl" / "bob" / "pixel_shuffle.py").write_text(REF_SHUFFLE)
    alice, bob, carol = discover(tmp_path / "dl")
    assert carol.files == {} and carol.ignored == [".ipynb_checkpoints/hw-checkpoint.ipynb"]
    assert sorted(alice.files) == [NOTEBOOK] and alice.ignored == ["notes.txt"]
    assert "".join(json.loads(alice.files[NOTEBOOK])["cells"][2]["source"]) == REF_SHUFFLE
    assert sorted(bob.files) == ["model.py", "pixel_shuffle.py"] and bob.ignored == ["practical.ipynb"]


def test_lms_grade_script_copies_a_notebook(tmp_path):
    """The file-picking loop of templates/common/grade.sh, run alone on an upload holding only a notebook."""
    script = (Path(__file__).parents[1] / "grader/templates/common/grade.sh").read_text()
    loop = script[script.index("shallowest() {"):script.index("\ndone\n", script.index("for f in model.py")) + 6]
    upload, work = tmp_path / "upload", tmp_path / "work"
    write(reference_notebook(), upload / "nested" / "hw.ipynb")
    write(reference_notebook(), upload / ".ipynb_checkpoints" / "hw-checkpoint.ipynb")
    (work / "submission").mkdir(parents=True)
    run = subprocess.run(["bash", "-c", loop], env={"SUBMISSION_SRC": str(upload), "WORK": str(work),
                                                     "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (work / "submission").iterdir()) == ["submission.ipynb"]
    assert notebook_of(work / "submission") == work / "submission" / "submission.ipynb"


def test_an_unreadable_notebook_still_gets_a_report_saying_why(tmp_path):
    """Nothing of it runs; every item says why, and the report records the notebook as handed in."""
    path = tmp_path / "hw.ipynb"
    path.write_text("import torch\n")
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--profile", "quick", "--sandbox",
                          "process", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "note: hw.ipynb is not a notebook: it is not valid JSON" in run.stdout
    report = json.loads(out.read_text())
    assert report["score"] == 0 and {t["status"] for t in report["tests"]} == {"error"}
    assert all(t["output"].startswith("hw.ipynb is not a notebook: it is not valid JSON") for t in report["tests"])
    assert report["submission"]["path"] == str(path) and report["submission"]["notebook"]["bytes"] == 13


def test_cells_python_cannot_analyse_are_skipped_with_a_note(tmp_path):
    e = extracted(tmp_path, notebook(SETUP, REF_SHUFFLE, "nonlocal x", "x = 1\n" * 300_000, REF_MODEL))
    assert_clean(e)
    assert e.notes[0].startswith("cell 4 is not valid Python (line 1: nonlocal declaration not allowed")
    assert e.notes[1].startswith("cell 5 is not valid Python (1,800,000 characters of code, more than the")


def test_an_escape_in_graded_code_is_still_caught_and_points_into_the_cell(tmp_path):
    """Extraction keeps what the graded code runs, so every attack class the static check holds stays held."""
    model = REF_MODEL.replace("        super().__init__()\n",
                              "        super().__init__()\n        threading.Thread(target=print).start()\n", 1)
    e = extracted(tmp_path, notebook(SETUP + "\nimport threading", REF_SHUFFLE, model))
    check = check_source(e.files["model.py"].source.encode(), "model.py")
    assert "import threading" in e.files["model.py"].source
    reason = translate(check.reason("CNN"), e)
    line = model.split("\n").index("        threading.Thread(target=print).start()") + 1
    assert f"- hw.ipynb cell 4, line {line}: uses threading.Thread" in reason, reason
    assert reason.startswith("The grader read the code it kept from hw.ipynb for model.py before running it")
    assert check.against("Net") == []


def test_a_notebook_that_is_a_link_is_refused_never_followed(tmp_path):
    """Like model.py (security round 3, class 1): a symbolic link is never read, whatever it points to."""
    secret = tmp_path / "secret.ipynb"
    write(reference_notebook(), secret)
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "hw.ipynb").symlink_to(secret)
    extraction = prepare(folder / "hw.ipynb", tmp_path)
    assert extraction.fatal == "hw.ipynb is a symbolic link; submit the file itself" and not extraction.files
    assert extraction.sha256 == "" and not (tmp_path / "model.py").exists()
