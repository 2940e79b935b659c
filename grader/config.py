"""grading.yaml -> typed rubric. Every malformed value or unknown key gets one error naming its key path.

What each key is (type, default, allowed values, meaning) is declared once, in grader/rubric_keys.py."""
from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .items import ITEM_IDS, SPECS, TRAINED_IDS
from .paths import REPO_ROOT
from .rubric_keys import (CALIBRATION, ITEM, OPTIMIZERS, OPTIONAL, PROFILE, REQUIRED, SANDBOXES, SCHEDULES, SETTINGS,
                          SIMILARITY, TOP, TRAIN, VISIBILITIES, Section, unknown_key_problem)

__all__ = ["ConfigError", "ITEM_IDS", "Config", "Item", "Threshold", "load_config", "write_calibration", "REPO_ROOT",
           "DEFAULT_CONFIG", "PROFILES", "PROFILE_CHOICES"]

DEFAULT_CONFIG = REPO_ROOT / "grading.yaml"
PROFILES = ("quick", "full")              # the profiles a rubric defines budgets and thresholds for
PROFILE_CHOICES = (*PROFILES, "auto")     # what a command accepts: auto = full when CUDA is available
TRAIN_CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
CALIBRATION_MARKER = "# ---- calibration: written by `python -m grader calibrate`; thresholds may be edited by hand ----"


@dataclass(frozen=True)
class Threshold:
    zero_at: float
    full_at: float

    def credit(self, value: float) -> float:
        """Fraction of the points earned by `value`, linear between zero_at and full_at."""
        if value != value:  # NaN earns nothing
            return 0.0
        return min(1.0, max(0.0, (value - self.zero_at) / (self.full_at - self.zero_at)))


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    points: float
    timeout_s: float
    visibility: str = "visible"
    max_params: int | None = None
    upscale_factor: int = 2
    train: dict[str, Any] = field(default_factory=dict)
    threshold: Threshold | None = None
    calibrated_cpu_s: float | None = None   # calibration: the CPU limit measured on the reference, with margin

    @property
    def cpu_limit_s(self) -> float:
        """CPU seconds each of the item's worker calls may use: calibrated where measured, else timeout_s."""
        return self.calibrated_cpu_s or self.timeout_s

    def over_budget(self, size: int) -> bool:
        """Does a model of `size` parameters and buffers exceed the item's budget? No max_params: no budget."""
        return self.max_params is not None and size > self.max_params


@dataclass(frozen=True)
class Config:
    path: Path
    sha256: str
    profile: str
    device: str
    sandbox: str
    memory_limit_mb: int
    output_limit_kb: int
    suspicious_gap: float
    suspicious_params: int
    items: tuple[Item, ...]
    calibration: dict[str, Any]

    def item(self, item_id: str) -> Item:
        return next(i for i in self.items if i.id == item_id)

    @property
    def max_score(self) -> float:
        return sum(i.points for i in self.items)

    def wall_budget_s(self, cpu_share: float) -> float:
        """Wall seconds a grade may take when every item uses its whole CPU limit at `cpu_share` CPUs (a worker
        runs one thread): what the outer limits around a grade (batch's watchdog, an LMS timeout) allow for,
        before their margin."""
        return sum(i.cpu_limit_s for i in self.items) / max(0.05, min(1.0, cpu_share))


class _Reader:
    """Reads values as grader/rubric_keys.py declares them; every problem is one ConfigError naming the key path."""

    def __init__(self, path: Path, profile: str):
        self.path, self.profile = path, profile

    def fail(self, key: str, problem: str):
        raise ConfigError(f"{self.path}: {key}: {problem}")

    def known(self, section: Section, mapping: dict, where: str) -> None:
        """Every key of `mapping` is one `section` declares: a misspelt key is an error, never ignored."""
        for name in mapping:
            if name not in section.names:
                self.fail(f"{where}.{name}" if where else str(name), unknown_key_problem(name, section))

    def read(self, section: Section, mapping: dict, name: str, where: str):
        """mapping[name], checked against its declaration; a {quick: .., full: ..} mapping picks this profile's."""
        key = section.key(name)
        full_key = f"{where}.{name}" if where else name
        if name not in mapping:
            if key.default == REQUIRED:
                self.fail(full_key, "is missing")
            return None if key.default == OPTIONAL else key.default
        value = mapping[name]
        if isinstance(value, dict) and key.per_profile:
            if self.profile not in value:
                self.fail(full_key, f"has no value for profile '{self.profile}' (has: {', '.join(map(str, value))})")
            value, full_key = value[self.profile], f"{full_key}.{self.profile}"
        if isinstance(value, bool) and bool not in key.kinds or not isinstance(value, key.kinds):
            self.fail(full_key, f"expected {key.type_name}, got {value!r}")
        if isinstance(value, (int, float)) and value < 0:
            self.fail(full_key, f"must not be negative, got {value!r}")
        if key.choices and value not in key.choices:
            self.fail(full_key, f"expected one of {', '.join(map(str, key.choices))}, got {value!r}")
        return value


def load_config(path: str | os.PathLike | None = None, profile: str = "quick",
                require_thresholds: bool = True) -> Config:
    path = Path(path or os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the rubric file ({exc.strerror}); pass --config FILE") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(f"{path}: not valid YAML at {where}: {getattr(exc, 'problem', exc)}") from None
    r = _Reader(path, profile)
    if not isinstance(raw, dict):
        r.fail("(top level)", "expected a mapping with settings, profiles and items")
    r.known(TOP, raw, "")
    r.read(TOP, raw, "version", "")
    profiles = r.read(TOP, raw, "profiles", "")
    if profile not in profiles:
        raise ConfigError(f"{path}: profiles: unknown profile '{profile}' (defined: {', '.join(profiles)})")
    for name, declared in profiles.items():
        if not isinstance(declared, dict):
            r.fail(f"profiles.{name}", f"expected a mapping with device and description, got {declared!r}")
        r.known(PROFILE, declared, f"profiles.{name}")
    device = r.read(PROFILE, profiles[profile], "device", f"profiles.{profile}")
    settings = r.read(TOP, raw, "settings", "") or {}
    r.known(SETTINGS, settings, "settings")
    r.known(SIMILARITY, r.read(TOP, raw, "similarity", "") or {}, "similarity")   # its values: similarity/settings.py
    calibrated = _calibration(r, r.read(TOP, raw, "calibration", "") or {}, profiles)

    items, seen = [], set()
    raw_items = r.read(TOP, raw, "items", "")
    for n, entry in enumerate(raw_items):
        where = f"items[{n}]"
        if not isinstance(entry, dict):
            r.fail(where, f"expected a mapping with id, name, points, got {entry!r}")
        item_id = r.read(ITEM, entry, "id", where)
        where = f"items[{n}] ({item_id})"
        if item_id not in ITEM_IDS:
            r.fail(f"{where}.id", f"unknown item id (known: {', '.join(ITEM_IDS)})")
        if item_id in seen:
            r.fail(f"{where}.id", "appears twice")
        seen.add(item_id)
        r.known(ITEM, entry, where)
        raw_train = entry.get("train") or {}
        if not isinstance(raw_train, dict):
            r.fail(f"{where}.train", f"expected a mapping of training settings (steps, lr, ...), got {raw_train!r}")
        r.known(TRAIN, raw_train, f"{where}.train")
        train = {k: r.read(TRAIN, raw_train, k, f"{where}.train") for k in raw_train}
        threshold, calibrated_cpu = None, None
        if SPECS[item_id].trained:
            cal = calibrated.get(item_id)
            if not require_thresholds:
                cal = cal if isinstance(cal, dict) else {"zero_at": 0.0, "full_at": 1.0}
            if not isinstance(cal, dict):
                r.fail(f"calibration.{profile}.{item_id}",
                       f"is missing: run `python -m grader calibrate --profile {profile}` to measure thresholds")
            zero = r.read(CALIBRATION, cal, "zero_at", f"calibration.{profile}.{item_id}")
            full = r.read(CALIBRATION, cal, "full_at", f"calibration.{profile}.{item_id}")
            if full <= zero:
                r.fail(f"calibration.{profile}.{item_id}", f"full_at ({full}) must be above zero_at ({zero})")
            threshold = Threshold(float(zero), float(full))
            if "cpu_limit_s" in cal:
                calibrated_cpu = float(r.read(CALIBRATION, cal, "cpu_limit_s", f"calibration.{profile}.{item_id}"))
            if not train.get("steps"):
                r.fail(f"{where}.train.steps", "is missing: the training budget in optimizer steps")
        timeout_s = float(r.read(ITEM, entry, "timeout_s", where))
        if timeout_s <= 0:
            r.fail(f"{where}.timeout_s", f"must be a positive number of seconds, got {timeout_s:g}")
        upscale_factor = r.read(ITEM, entry, "upscale_factor", where)
        if upscale_factor < 2:
            r.fail(f"{where}.upscale_factor", f"must be an integer of at least 2, got {upscale_factor}")
        max_params = r.read(ITEM, entry, "max_params", where)
        if max_params is not None and max_params < 1:   # 0 would read as "no budget" to some and "none allowed" to others
            r.fail(f"{where}.max_params", f"must be at least 1, got {max_params} (leave it out for no budget)")
        items.append(Item(
            id=item_id,
            name=r.read(ITEM, entry, "name", where),
            points=float(r.read(ITEM, entry, "points", where)),
            timeout_s=timeout_s,
            visibility=r.read(ITEM, entry, "visibility", where),
            max_params=max_params,
            upscale_factor=upscale_factor,
            train=train,
            threshold=threshold,
            calibrated_cpu_s=calibrated_cpu,
        ))
    if not items:
        r.fail("items", "is empty: nothing to grade")
    sharing: dict[str, Item] = {}   # items scored from one worker call train once: one budget, not two
    for n, item in enumerate(items):
        first = sharing.setdefault(SPECS[item.id].evidence, item)
        if item.train and first.train != item.train:
            r.fail(f"items[{n}] ({item.id}).train", f"differs from {first.id}'s: both are scored from the worker call "
                   f"{SPECS[item.id].evidence!r}, which trains once; give them the same train settings")
    return Config(
        path=path, sha256=hashlib.sha256(text.encode()).hexdigest(), profile=profile, device=device,
        sandbox=r.read(SETTINGS, settings, "sandbox", "settings"),
        memory_limit_mb=r.read(SETTINGS, settings, "memory_limit_mb", "settings"),
        output_limit_kb=r.read(SETTINGS, settings, "output_limit_kb", "settings"),
        suspicious_gap=float(r.read(SETTINGS, settings, "suspicious_gap", "settings")),
        suspicious_params=r.read(SETTINGS, settings, "suspicious_params", "settings"),
        items=tuple(items), calibration=calibrated,
    )


def _calibration(r: _Reader, calibration: dict, profiles: dict) -> dict:
    """This profile's calibration section: {item id: {zero_at, full_at, evidence}}, every key name checked."""
    for name in calibration:
        if name not in profiles:
            close = difflib.get_close_matches(str(name), list(profiles), n=1)
            r.fail(f"calibration.{name}", f"not a profile of this rubric (defined: {', '.join(profiles)})"
                   + (f"; did you mean '{close[0]}'?" if close else ""))
    calibrated = calibration.get(r.profile) or {}
    if not isinstance(calibrated, dict):
        r.fail(f"calibration.{r.profile}", f"expected a mapping of item id -> {{zero_at, full_at}}, got {calibrated!r}")
    for item_id, values in calibrated.items():
        where = f"calibration.{r.profile}.{item_id}"
        if item_id not in TRAINED_IDS:
            close = difflib.get_close_matches(str(item_id), TRAINED_IDS, n=1)
            r.fail(where, "not a trained item" + (f"; did you mean '{close[0]}'?" if close
                                                  else f" (trained items: {', '.join(TRAINED_IDS)})"))
        if not isinstance(values, dict):
            r.fail(where, f"expected a mapping with zero_at and full_at, got {values!r}")
        r.known(CALIBRATION, values, where)
        for name in values:
            r.read(CALIBRATION, values, name, where)
    return calibrated


def write_calibration(path: Path, profile: str, values: dict[str, dict[str, Any]]) -> None:
    """Rewrite only the machine-written calibration section, keeping the hand-written part and its comments."""
    text = path.read_text()
    head = text.split(CALIBRATION_MARKER)[0].rstrip() + "\n\n"
    calibration = (yaml.safe_load(text) or {}).get("calibration") or {}
    calibration[profile] = values
    body = yaml.safe_dump({"calibration": calibration}, sort_keys=False, default_flow_style=False)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(head + CALIBRATION_MARKER + "\n" + body)
    os.replace(tmp, path)
