"""What the grader says about the extracted files, said about the notebook: "cell 7, line 3".

The static check and the worker know only the two files extracted from the notebook (extract.py); their
messages cite those files' lines in three ways, each rewritten here with the line's origin (and "importing
model.py" or "read model.py" say which code of the notebook they mean):
- a traceback frame:           File ".../submission/model.py", line 12, in forward
- the static check's findings:  - model.py line 12: ...   (and "line 12: ..." in a flag about model.py)
- a missing definition:         model.py does not define `CNN`   (replaced by why the notebook lacks it)

>>> from grader.notebook.extract import Extraction, ExtractedFile
>>> e = Extraction("hw.ipynb", {"model.py": ExtractedFile("", {2: (7, 3)}), "pixel_shuffle.py": ExtractedFile()})
>>> translate('  File "/tmp/w/submission/model.py", line 2, in forward', e)
'  File "hw.ipynb", cell 7, line 3, in forward'
>>> translate("- model.py line 2: reads a file", e)
'- hw.ipynb cell 7, line 3: reads a file'
"""
from __future__ import annotations

import re

from ..items import SUBMISSION_FILES
from .extract import Extraction

FILES = "|".join(re.escape(name) for name in SUBMISSION_FILES)
FRAME = re.compile(rf'File "[^"\n]*?\b({FILES})", line (\d+)')
CITED = re.compile(rf"\b({FILES}) line (\d+)")
SYNTAX = re.compile(rf"\b({FILES}) has a syntax error at line (\d+)")
UNDEFINED = re.compile(rf"\b({FILES}) does not define `(\w+)`")
IMPORTING = re.compile(rf"\bimporting ({FILES}) raised")
READ = re.compile(rf"\bThe grader read ({FILES}) before running it")
BARE_LINE = re.compile(r"\bline (\d+):")


def where(extraction: Extraction, file: str, line: int) -> str:
    origin = extraction.files[file].origins.get(line) if file in extraction.files else None
    return f"cell {origin[0]}, line {origin[1]}" if origin else f"line {line} of the code kept from {file}"


def translate(text: str, extraction: Extraction) -> str:
    if not text:
        return text
    nb = extraction.notebook
    text = FRAME.sub(lambda m: f'File "{nb}", {where(extraction, m[1], int(m[2]))}', text)
    text = CITED.sub(lambda m: f"{nb} {where(extraction, m[1], int(m[2]))}", text)
    text = SYNTAX.sub(lambda m: f"{nb} has a syntax error at {where(extraction, m[1], int(m[2]))}", text)
    text = UNDEFINED.sub(lambda m: extraction.missing.get(m[2], f"the notebook does not define `{m[2]}`"), text)
    text = READ.sub(lambda m: f"The grader read the code it kept from {nb} for {m[1]} before running it", text)
    return IMPORTING.sub(lambda m: f"running the code the grader kept from {nb} for {m[1]}", text)


def translate_flag(flag: str, extraction: Extraction) -> str:
    """A flag is about one file (it starts with its name); its bare "line N:" citations are that file's."""
    file = next((name for name in SUBMISSION_FILES if flag.startswith(name)), None)
    if file is not None:
        flag = BARE_LINE.sub(lambda m: where(extraction, file, int(m[1])) + ":", flag)
    return translate(flag, extraction)
