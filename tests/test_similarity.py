"""Similarity: a class of 14 submissions (tests/similarity_class) with real behaviour fingerprints.

Five pairs are copies: ivan renamed ana's variables and rewrote her comments; jules reordered ben's functions
and classes; kim renamed, reordered and re-commented chloe's; lea only changed dmitri's comments; mo copied
emeka's model.py with new names but wrote his own pixel_shuffle.py. The other nine students wrote their own
solutions, several of them the practical's prescribed architectures (ana, fatima and gus build the same CNN;
fatima and gus the same ESPCN; emeka and dmitri the same tanh ESPCN), which train to identical models.
Fingerprints come from training each submission with the grader's own loops and seeds on real data
(tests/fingerprint_harness.py); code similarity runs copydetect on the files.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from fingerprint_harness import fingerprints
from grader import fingerprint
from grader.config import REPO_ROOT, ConfigError
from grader.result import ItemResult, Report
from grader.similarity import Settings, compare_class, csv_text, load_settings

CLASS = REPO_ROOT / "tests" / "similarity_class"
COPIES = {frozenset(p) for p in (("ana", "ivan"), ("ben", "jules"), ("chloe", "kim"), ("dmitri", "lea"), ("emeka", "mo"))}


def fingerprint_report(prints: dict[str, str]) -> Report:
    tests = [ItemResult("cnn.accuracy", "accuracy", 30, metrics={"fingerprint": prints["mnist"]}),
             ItemResult("sr.psnr", "psnr", 30, metrics={"fingerprint": prints["sr"]})]
    return Report(0.0, 60.0, "quick", "cpu", {}, 0.0, {}, tests)


@pytest.fixture(scope="module")
def class_result():
    folders = {d.name: d for d in sorted(CLASS.iterdir())}
    reports = {name: fingerprint_report(fingerprints(folder)) for name, folder in folders.items()}
    result = compare_class(folders, reports, load_settings())
    for rank, p in enumerate(result.pairs[:8], 1):   # the ranks, for the record (pytest -s)
        print(f"{rank:2d} {p.a}-{p.b}: combined {p.combined:.3f} code {p.code.score:.3f} "
              f"behaviour {p.behaviour.scores} {'listed' if p.listed else ''}")
    return result


def test_copies_rank_first_and_independent_pairs_stay_below_the_threshold(class_result):
    pairs, list_at = class_result.pairs, class_result.settings.list_at
    assert len(pairs) == 14 * 13 // 2
    top = {frozenset((p.a, p.b)) for p in pairs[:len(COPIES)]}
    assert top == COPIES, f"top pairs {top}"
    for p in pairs:
        if frozenset((p.a, p.b)) in COPIES:
            assert p.listed and p.combined >= list_at
            assert p.behaviour.scores == {"mnist": 1.0, "sr": 1.0}, "copied models must train identically"
        else:
            assert not p.listed and p.combined < list_at, f"independent pair {p.a}-{p.b} listed: {p.combined}"
    independent = [p for p in pairs if frozenset((p.a, p.b)) not in COPIES]
    assert max(p.code.score for p in independent) < min(p.code.score for p in pairs[:len(COPIES)])


def test_prescribed_design_trains_identically_but_is_not_evidence(class_result):
    by_pair = {frozenset((p.a, p.b)): p for p in class_result.pairs}
    same_design = by_pair[frozenset(("fatima", "gus"))]   # written independently, same layers in the same order
    assert same_design.behaviour.scores == {"mnist": 1.0, "sr": 1.0}
    assert same_design.behaviour.shared_by == {"mnist": 4}   # ana, ivan, fatima, gus: the practical's CNN
    assert not same_design.listed
    unrelated = by_pair[frozenset(("ben", "nora"))]
    assert max(unrelated.behaviour.scores.values()) < 0.6


def test_csv_has_every_pair_ranked(class_result):
    lines = csv_text(class_result).splitlines()
    assert lines[0].startswith("rank,student_a,student_b,combined,listed,code")
    assert len(lines) == 1 + 91
    first = {frozenset(line.split(",")[1:3]) for line in lines[1:6]}
    assert first == COPIES and all(",yes," in line for line in lines[1:6]) and ",yes," not in "".join(lines[6:])


def test_the_starter_stubs_are_not_evidence(tmp_path):
    folders = {}
    for name in ("stub_a", "stub_b"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        for f in ("model.py", "pixel_shuffle.py"):
            (folders[name] / f).write_text((REPO_ROOT / "student" / f).read_text())
    result = compare_class(folders, {}, load_settings())
    assert result.pairs[0].code.score == 0.0 and not result.pairs[0].listed


def test_same_class_gives_the_same_csv_in_every_process(tmp_path):
    """copydetect hashes k-grams with Python's salted hash(); ours must not depend on PYTHONHASHSEED."""
    script = ("import sys; from pathlib import Path; from grader.similarity import compare_class, csv_text, "
              "load_settings; root = Path(sys.argv[1]); "
              "print(csv_text(compare_class({d.name: d for d in root.iterdir()}, {}, load_settings())))")
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", script, str(CLASS)], capture_output=True, text=True, env=env,
                             timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]


def test_csv_cells_never_run_as_formulas(tmp_path):
    folders = {name: tmp_path / f"s{n}" for n, name in enumerate(("=HYPERLINK(\"http://x\")", "bob"))}
    for folder in folders.values():
        folder.mkdir()
        (folder / "model.py").write_text("x = 1\n")
    text = csv_text(compare_class(folders, {}, load_settings()))
    assert "'=HYPERLINK" in text and "\n1,=" not in text


def test_without_copydetect_behaviour_still_ranks(monkeypatch, tmp_path):
    import grader.similarity as similarity
    monkeypatch.setattr(similarity, "available", lambda: False)
    labels = np.array([1, 2, 0, 0])
    same = {"mnist": fingerprint.mnist(np.array([1, 2, 3, 4]), labels), "sr": fingerprint.sr(np.zeros((1, 1, 8, 8)))}
    other = {"mnist": fingerprint.mnist(np.array([1, 2, 5, 0]), labels), "sr": fingerprint.sr(np.ones((1, 1, 8, 8)))}
    reports = {"a": fingerprint_report(same), "b": fingerprint_report(same), "c": fingerprint_report(other)}
    result = compare_class({}, reports, load_settings())
    assert not result.code_available and result.pairs[0].code is None
    assert (result.pairs[0].a, result.pairs[0].b, result.pairs[0].combined) == ("a", "b", 1.0)


def test_fingerprints_round_trip_and_reject_garbage():
    predictions, labels = np.array([3, 1, 4, 1, 5, 9, 2]), np.array([3, 1, 4, 0, 5, 0, 2])
    mistakes = fingerprint.mnist_mistakes(fingerprint.mnist(predictions, labels))
    assert mistakes[:7].tolist() == [15, 15, 15, 1, 15, 9, 15]
    other = fingerprint.mnist_mistakes(fingerprint.mnist(np.array([3, 1, 4, 1, 5, 7, 2]), labels))
    assert fingerprint.shared_mistakes(mistakes, mistakes) == 1.0
    assert fingerprint.shared_mistakes(mistakes, other) == 0.5   # both wrong twice, the same way once
    outputs = np.random.default_rng(0).random((3, 1, 40, 40), dtype=np.float32)
    pixels = fingerprint.sr_pixels(fingerprint.sr(outputs))
    assert len(pixels) == fingerprint.SR_SAMPLES and fingerprint.same_pixels(pixels, pixels) == 1.0
    for garbage in (None, 3, "", "mnist:v1:!!!", "mnist:v0:AAAA", "sr:v1:" + "A" * 8, "x" * 10_000):
        assert fingerprint.mnist_mistakes(garbage) is None and fingerprint.sr_pixels(garbage) is None


@pytest.mark.parametrize("section, problem", [
    ("list_at: high", "similarity.list_at: expected a number from 0 to 1, got 'high'"),
    ("list_at: 1.5", "similarity.list_at: expected a number from 0 to 1, got 1.5"),
    ("common_behaviour: 0", "similarity.common_behaviour: expected a whole number of at least 1, got 0"),
    ("max_pairs: true", "similarity.max_pairs: expected a whole number of at least 1, got True"),
    ("treshold: 0.5", "similarity.treshold: unknown key (known: list_at, behaviour_weight"),
    ("max_pair: 10", "similarity.max_pair: unknown key; did you mean 'max_pairs'?"),
    ("starter: no_such_folder", "similarity.starter:"),
    ("noise_t: 40", "similarity.guarantee_t (30) must be at least noise_t (40)"),
])
def test_bad_similarity_settings_name_the_key(tmp_path, section, problem):
    rubric = tmp_path / "grading.yaml"
    rubric.write_text(f"similarity:\n  {section}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(rubric)
    assert problem in str(info.value) and str(rubric) in str(info.value)


def test_committed_rubric_settings_and_a_missing_section(tmp_path):
    settings = load_settings()
    assert 0 < settings.list_at < 1 and settings.starter == REPO_ROOT / "student"
    (tmp_path / "grading.yaml").write_text("version: 1\n")
    assert load_settings(tmp_path / "grading.yaml") == Settings()


def test_every_pair_is_compared_once():
    folders = {d.name: d for d in sorted(CLASS.iterdir())[:4]}
    result = compare_class(folders, {}, load_settings())
    assert sorted((p.a, p.b) for p in result.pairs) == list(itertools.combinations(sorted(folders), 2))
