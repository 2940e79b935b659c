"""Every key of grading.yaml, declared once: its type, default, allowed values, whether it may differ per profile,
and what it means. The loader (grader/config.py, grader/similarity/settings.py), its error messages and the
reference table docs/rubric.md all read these declarations; `python -m grader.rubric_keys --write` regenerates
the table and tests/test_config.py checks the committed one is up to date.

>>> SECTIONS["items[]"].key("visibility").default
'visible'
>>> unknown_key_problem("visiblity", SECTIONS["items[]"])
"unknown key; did you mean 'visibility'?"
"""
from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT
from .sandbox.modes import MODES as SANDBOXES   # the one list of sandbox modes

REQUIRED = "(required)"   # the default of a key that must be given
OPTIONAL = "(none)"       # the default of a key whose absence means something (said in its description)
DOC = REPO_ROOT / "docs" / "rubric.md"

VISIBLE = "visible"   # the one visibility whose results every rendering shows the student now
RELEASED = {VISIBLE: "right away", "hidden": "never (instructors only)",   # when a student sees an item's result
            "after_due_date": "after the due date", "after_published": "when grades are published"}
VISIBILITIES = tuple(RELEASED)    # Gradescope's visibility values
DEVICES = ("cpu", "cuda")
OPTIMIZERS = ("adam", "adamw", "sgd")            # grader/worker/optim.py
SCHEDULES = ("none", "onecycle", "cosine")       # grader/worker/optim.py
NUMBER = (int, float)


@dataclass(frozen=True)
class Key:
    name: str
    kinds: tuple[type, ...]
    description: str
    default: Any = REQUIRED
    choices: tuple = ()
    per_profile: bool = False    # may be a mapping {quick: .., full: ..}, one value per profile

    @property
    def type_name(self) -> str:
        """How an error message and the reference table name the type: "int or float", "str", ..."""
        names = {int: "int", float: "float", str: "str", dict: "mapping", list: "list", bool: "bool"}
        return " or ".join(names[k] for k in self.kinds)


@dataclass(frozen=True)
class Section:
    path: str            # where it sits in grading.yaml: items[] is each item, <profile> each profile's name
    description: str
    keys: tuple[Key, ...]

    def key(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)


def unknown_key_problem(name: Any, section: Section) -> str:
    """The error for a key `section` does not declare: the closest declared key, else the list of them."""
    close = difflib.get_close_matches(str(name), section.names, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return f"unknown key (known: {', '.join(section.names)})"


TOP = Section("(top level)", "The rubric file's sections.", (
    Key("version", (int,), "The rubric format's version.", default=1, choices=(1,)),
    Key("settings", (dict,), "Limits and flags that apply to every item (below).", default={}),
    Key("profiles", (dict,), "The grading profiles (quick, full, ...) by name; each has the keys of "
        "`profiles.<profile>`."),
    Key("items", (list,), "The rubric items, in report order; each has the keys of `items[]`."),
    Key("similarity", (dict,), "When a pair of submissions is listed for a human to look at (batch).", default={}),
    Key("calibration", (dict,), "Measured thresholds per profile and trained item, written by "
        "`python -m grader calibrate`; the thresholds may be edited by hand.", default={}),
))

SETTINGS = Section("settings", "Limits and flags that apply to every item.", (
    Key("sandbox", (str,), "How student code is isolated: auto picks bwrap where it works, else process.",
        default="auto", choices=SANDBOXES),
    Key("memory_limit_mb", (int,), "Memory (MB) one worker may use, enforced from outside (RSS watchdog) and "
        "by rlimits.", default=6144),
    Key("output_limit_kb", (int,), "Captured stdout/stderr kept per worker (KB, the tail).", default=64),
    Key("suspicious_gap", NUMBER, "Flag a clean-vs-perturbed MNIST accuracy gap above this.", default=0.05),
    Key("suspicious_params", (int,), "Flag models with more trainable parameters than this.", default=2_000_000),
))

PROFILE = Section("profiles.<profile>", "One grading profile (the committed rubric defines quick and full).", (
    Key("device", (str,), "Where trained items train.", choices=DEVICES),
    Key("description", (str,), "What the profile is for (shown to a person, not used).", default=""),
))

ITEM = Section("items[]", "One rubric item; `id` names one of grader/items.py's items.", (
    Key("id", (str,), "The item's stable id (reports, gradebooks and LMS exports are keyed by it)."),
    Key("name", (str,), "The title students see."),
    Key("points", NUMBER, "What the item is worth."),
    Key("timeout_s", NUMBER, "CPU seconds the item's worker may use (all its threads and processes); a "
        "wall-clock backstop is derived from it. Must be positive.", per_profile=True),
    Key("visibility", (str,), "When students see the item's result: " + "; ".join(
        f"{name}: {when}" for name, when in RELEASED.items()) + ".", default=VISIBLE, choices=VISIBILITIES),
    Key("max_params", (int,), "The most parameters and buffers (trainable or frozen, all count) the student's "
        "model may hold; at least 1. Leave it out for no budget.", default=OPTIONAL),
    Key("upscale_factor", (int,), "The super-resolution factor r (at least 2).", default=2),
    Key("train", (dict,), "The training budget of a trained item: the keys of `items[].train`.", default={}),
))

TRAIN = Section("items[].train", "The training budget of a trained item; every key may differ per profile.", (
    Key("steps", (int,), "Optimizer steps (the budget; required for a trained item).", per_profile=True),
    Key("optimizer", (str,), "The optimizer (grader/worker/optim.py).", default="adam", choices=OPTIMIZERS,
        per_profile=True),
    Key("lr", NUMBER, "The learning rate (the peak, with a schedule).", default=0.001, per_profile=True),
    Key("batch_size", (int,), "Examples per step.", default=64, per_profile=True),
    Key("schedule", (str,), "The learning-rate schedule.", default="none", choices=SCHEDULES, per_profile=True),
    Key("patch", (int,), "Super-resolution: the low-resolution patch side; 0 = the whole centre crop.",
        default=0, per_profile=True),
))

SIMILARITY = Section("similarity", "When a pair of submissions is listed for a human to look at (batch: "
                     "summary.html and similarity.csv). A lead for a human, never a verdict.", (
    Key("list_at", NUMBER, "List a pair in the page from this combined score, 0 to 1 (similarity.csv has "
        "every pair).", default=0.6),
    Key("behaviour_weight", NUMBER, "How much identical trained behaviour raises the code score, 0 to 1: "
        "combined = code + weight * behaviour * (1 - code).", default=0.25),
    Key("common_behaviour", (int,), "Behaviour shared exactly by more students than this is the prescribed "
        "design: not counted.", default=3),
    Key("max_pairs", (int,), "Listed pairs shown in the page with their code side by side.", default=40),
    Key("noise_t", (int,), "copydetect: matches shorter than this many characters of normalised code are "
        "ignored.", default=25),
    Key("guarantee_t", (int,), "copydetect: matches at least this long are always found (at least noise_t).",
        default=30),
    Key("starter", (str,), "The starter files' folder, relative to the grader's folder; code found there is "
        "never evidence.", default="student"),
))

CALIBRATION = Section("calibration.<profile>.<item id>", "A trained item's thresholds for one profile: credit is "
                      "linear between zero_at (0 points) and full_at (all points). Written by `python -m grader "
                      "calibrate` with the evidence for them.", (
    Key("zero_at", NUMBER, "The metric value that earns 0 points (the baseline's)."),
    Key("full_at", NUMBER, "The metric value that earns all points (above zero_at)."),
    Key("reference_mean", NUMBER, "The reference's mean over the calibrated seeds.", default=OPTIONAL),
    Key("reference_std", NUMBER, "Their standard deviation.", default=OPTIONAL),
    Key("reference_runs", (list,), "The reference's value per seed.", default=OPTIONAL),
    Key("baseline", (str,), "What zero_at was measured on.", default=OPTIONAL),
    Key("seeds", (int,), "How many seeds were measured.", default=OPTIONAL),
    Key("device", (str,), "The device calibrated on.", default=OPTIONAL),
    Key("gpu", (str,), "The GPU calibrated on.", default=OPTIONAL),
    Key("torch", (str,), "The torch version calibrated with.", default=OPTIONAL),
    Key("date", (str,), "When.", default=OPTIONAL),
    Key("note", (str,), "Anything a person should know about this calibration.", default=OPTIONAL),
    Key("cpu_s", NUMBER, "Measured CPU seconds of the reference's worker (mean over the seeds).",
        default=OPTIONAL),
    Key("cpu_s_max", NUMBER, "The most CPU seconds one seed's worker used.", default=OPTIONAL),
    Key("cpu_limit_s", NUMBER, "The CPU limit applied to the item; overrides its timeout_s when present.",
        default=OPTIONAL),
))

SECTIONS = {s.path: s for s in (TOP, SETTINGS, PROFILE, ITEM, TRAIN, SIMILARITY, CALIBRATION)}


def reference_markdown() -> str:
    """docs/rubric.md: one table per section, generated from the declarations above."""
    def cell(value: Any) -> str:
        text = value if isinstance(value, str) and value in (REQUIRED, OPTIONAL) else f"`{value!r}`"
        return text.replace("|", "\\|")

    out = ["# grading.yaml reference", "",
           "Generated from `grader/rubric_keys.py` by `python -m grader.rubric_keys --write`; do not edit by hand.",
           "An unknown or misspelt key is an error naming its path and the closest known key.", ""]
    for s in SECTIONS.values():
        out += [f"## `{s.path}`", "", s.description, "",
                "| key | type | default | allowed values | per profile | meaning |",
                "|---|---|---|---|---|---|"]
        for k in s.keys:
            choices = ", ".join(f"`{c}`" for c in k.choices)
            out.append(f"| `{k.name}` | {k.type_name} | {cell(k.default)} | {choices} | "
                       f"{'yes' if k.per_profile else 'no'} | {k.description.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.rubric_keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {DOC.relative_to(REPO_ROOT)} (else print it)")
    args = parser.parse_args(argv)
    if args.write:
        Path(DOC).parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(reference_markdown())
        print(f"wrote {DOC}")
    else:
        print(reference_markdown(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
