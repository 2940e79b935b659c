"""Which pairs of submissions to look at: code similarity (copydetect) and trained behaviour, per pair.

    combined = code + behaviour_weight * behaviour * (1 - code)

Code is the primary evidence. Identical trained behaviour raises it (never lowers it): copied model code
trains to the same weights however it was renamed, reordered or restructured. A pair is listed when
`combined >= list_at` (grading.yaml `similarity:`). This is a lead for a human, never a verdict: the page
says so, and shows the code side by side. similarity.csv has every pair.
"""
from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

from grader.gradebook import spreadsheet_cell
from grader.result import Report
from grader.similarity.behaviour import BehaviourComparer, BehaviourMatch
from grader.similarity.code import INSTALL_HINT, CodeComparer, CodeMatch, available, read_sources
from grader.similarity.settings import Settings, load_settings

__all__ = ["Pair", "ClassSimilarity", "compare_class", "csv_text", "load_settings", "Settings", "INSTALL_HINT"]


@dataclass
class Pair:
    a: str
    b: str
    code: CodeMatch | None          # None: copydetect is not installed
    behaviour: BehaviourMatch
    combined: float
    listed: bool


@dataclass
class ClassSimilarity:
    pairs: list[Pair]               # every pair, highest combined score first
    sources: dict[str, dict[str, str]]
    settings: Settings
    code_available: bool

    @property
    def shown(self) -> list[Pair]:
        return [p for p in self.pairs if p.listed][:self.settings.max_pairs]


def combine(code: CodeMatch | None, behaviour: float | None, weight: float) -> float:
    if code is None:
        return behaviour or 0.0
    return code.score + weight * (behaviour or 0.0) * (1 - code.score)


def compare_class(folders: dict[str, Path], reports: dict[str, Report | None], settings: Settings) -> ClassSimilarity:
    """Compare every pair of students; `folders` hold each student's model.py and pixel_shuffle.py."""
    sources = {student: read_sources(folder) for student, folder in folders.items()}
    code = CodeComparer(sources, settings.starter, settings.noise_t, settings.guarantee_t) if available() else None
    behaviour = BehaviourComparer(reports, settings.common_behaviour)
    pairs = []
    for a, b in itertools.combinations(sorted(set(folders) | set(reports)), 2):
        match = code.compare(a, b) if code and a in sources and b in sources else None
        same = behaviour.compare(a, b)
        combined = combine(match, same.counted, settings.behaviour_weight)
        pairs.append(Pair(a, b, match, same, round(combined, 4), combined >= settings.list_at))
    pairs.sort(key=lambda p: (-p.combined, p.a, p.b))
    result = ClassSimilarity(pairs, sources, settings, code is not None)
    for pair in result.shown:   # the matched spans, for highlighting, only where a human will look
        pair.code = code.compare(pair.a, pair.b, spans=True) if pair.code else None
    return result


COLUMNS = ("rank", "student_a", "student_b", "combined", "listed", "code", "model_py", "pixel_shuffle_py",
           "mnist_behaviour", "sr_behaviour", "behaviour_counted", "note")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def csv_text(result: ClassSimilarity) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rank, p in enumerate(result.pairs, 1):
        files = p.code.per_file if p.code else {}
        note = "; ".join(f"{s} behaviour shared by {n} students: the prescribed design, not counted"
                         for s, n in p.behaviour.shared_by.items())
        row = [rank, p.a, p.b, _fmt(p.combined), "yes" if p.listed else "no", _fmt(p.code.score if p.code else None),
               _fmt(files.get("model.py")), _fmt(files.get("pixel_shuffle.py")),
               _fmt(p.behaviour.scores.get("mnist")), _fmt(p.behaviour.scores.get("sr")),
               _fmt(p.behaviour.counted), note]
        writer.writerow([spreadsheet_cell(v) for v in row])
    return buf.getvalue()
