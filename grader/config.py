"""grading.yaml -> typed rubric. Every malformed value gets one error naming its key path."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .items import ITEM_IDS, SPECS
from .paths import REPO_ROOT
from .sandbox.modes import MODES as SANDBOXES   # the one list of sandbox modes

__all__ = ["ConfigError", "ITEM_IDS", "Config", "Item", "Threshold", "load_config", "write_calibration", "REPO_ROOT",
           "DEFAULT_CONFIG", "PROFILES", "PROFILE_CHOICES"]

DEFAULT_CONFIG = REPO_ROOT / "grading.yaml"
PROFILES = ("quick", "full")              # the profiles a rubric defines budgets and thresholds for
PROFILE_CHOICES = (*PROFILES, "auto")     # what a command accepts: auto = full when CUDA is available
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
TRAIN_CHOICES = {"optimizer": ("adam", "adamw", "sgd"), "schedule": ("none", "onecycle", "cosine")}  # worker/optim.py
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
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str):
        raise ConfigError(f"{self.path}: {key}: {problem}")

    def get(self, mapping: dict, key: str, where: str, kind, default: Any = ..., profile: str | None = None):
        """Read mapping[key]; a {quick: .., full: ..} mapping picks `profile`'s value."""
        full_key = f"{where}.{key}" if where else key
        if key not in mapping:
            if default is ...:
                self.fail(full_key, "is missing")
            return default
        value = mapping[key]
        if isinstance(value, dict) and profile is not None:
            if profile not in value:
                self.fail(full_key, f"has no value for profile '{profile}' (has: {', '.join(map(str, value))})")
            value, full_key = value[profile], f"{full_key}.{profile}"
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.fail(full_key, f"expected {names}, got {value!r}")
        if isinstance(value, (int, float)) and value < 0:
            self.fail(full_key, f"must not be negative, got {value!r}")
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
    r = _Reader(path)
    if not isinstance(raw, dict):
        r.fail("(top level)", "expected a mapping with settings, profiles and items")
    profiles = r.get(raw, "profiles", "", dict)
    if profile not in profiles:
        raise ConfigError(f"{path}: profiles: unknown profile '{profile}' (defined: {', '.join(profiles)})")
    device = r.get(profiles[profile], "device", f"profiles.{profile}", str)
    settings = r.get(raw, "settings", "", dict, default={})
    sandbox = r.get(settings, "sandbox", "settings", str, default="auto")
    if sandbox not in SANDBOXES:
        r.fail("settings.sandbox", f"expected one of {', '.join(SANDBOXES)}, got {sandbox!r}")
    if device not in ("cpu", "cuda"):
        r.fail(f"profiles.{profile}.device", f"expected cpu or cuda, got {device!r}")
    calibration = r.get(raw, "calibration", "", dict, default={}) or {}
    calibrated = calibration.get(profile) or {}
    if not isinstance(calibrated, dict):
        r.fail(f"calibration.{profile}", f"expected a mapping of item id -> {{zero_at, full_at}}, got {calibrated!r}")

    items, seen = [], set()
    raw_items = r.get(raw, "items", "", list)
    for n, entry in enumerate(raw_items):
        where = f"items[{n}]"
        if not isinstance(entry, dict):
            r.fail(where, f"expected a mapping with id, name, points, got {entry!r}")
        item_id = r.get(entry, "id", where, str)
        where = f"items[{n}] ({item_id})"
        if item_id not in ITEM_IDS:
            r.fail(f"{where}.id", f"unknown item id (known: {', '.join(ITEM_IDS)})")
        if item_id in seen:
            r.fail(f"{where}.id", "appears twice")
        seen.add(item_id)
        raw_train = entry.get("train") or {}
        if not isinstance(raw_train, dict):
            r.fail(f"{where}.train", f"expected a mapping of training settings (steps, lr, ...), got {raw_train!r}")
        train = {k: r.get(raw_train, k, f"{where}.train", (int, float, str), profile=profile) for k in raw_train}
        for key, choices in TRAIN_CHOICES.items():
            if key in train and train[key] not in choices:
                r.fail(f"{where}.train.{key}", f"expected one of {', '.join(choices)}, got {train[key]!r}")
        threshold, calibrated_cpu = None, None
        if SPECS[item_id].trained:
            cal = calibrated.get(item_id)
            if not require_thresholds:
                cal = cal if isinstance(cal, dict) else {"zero_at": 0.0, "full_at": 1.0}
            if not isinstance(cal, dict):
                r.fail(f"calibration.{profile}.{item_id}",
                       f"is missing: run `python -m grader calibrate --profile {profile}` to measure thresholds")
            zero = r.get(cal, "zero_at", f"calibration.{profile}.{item_id}", (int, float))
            full = r.get(cal, "full_at", f"calibration.{profile}.{item_id}", (int, float))
            if full <= zero:
                r.fail(f"calibration.{profile}.{item_id}", f"full_at ({full}) must be above zero_at ({zero})")
            threshold = Threshold(float(zero), float(full))
            if "cpu_limit_s" in cal:
                calibrated_cpu = float(r.get(cal, "cpu_limit_s", f"calibration.{profile}.{item_id}", (int, float)))
            if not train.get("steps"):
                r.fail(f"{where}.train.steps", "is missing: the training budget in optimizer steps")
        visibility = r.get(entry, "visibility", where, str, default="visible")
        if visibility not in VISIBILITIES:
            r.fail(f"{where}.visibility", f"expected one of {', '.join(VISIBILITIES)}, got {visibility!r}")
        timeout_s = float(r.get(entry, "timeout_s", where, (int, float), profile=profile))
        if timeout_s <= 0:
            r.fail(f"{where}.timeout_s", f"must be a positive number of seconds, got {timeout_s:g}")
        upscale_factor = r.get(entry, "upscale_factor", where, int, default=2)
        if upscale_factor < 2:
            r.fail(f"{where}.upscale_factor", f"must be an integer of at least 2, got {upscale_factor}")
        items.append(Item(
            id=item_id,
            name=r.get(entry, "name", where, str),
            points=float(r.get(entry, "points", where, (int, float))),
            timeout_s=timeout_s,
            visibility=visibility,
            max_params=r.get(entry, "max_params", where, int, default=None),
            upscale_factor=upscale_factor,
            train=train,
            threshold=threshold,
            calibrated_cpu_s=calibrated_cpu,
        ))
    if not items:
        r.fail("items", "is empty: nothing to grade")
    return Config(
        path=path, sha256=hashlib.sha256(text.encode()).hexdigest(), profile=profile, device=device,
        sandbox=sandbox,
        memory_limit_mb=r.get(settings, "memory_limit_mb", "settings", int, default=6144),
        output_limit_kb=r.get(settings, "output_limit_kb", "settings", int, default=64),
        suspicious_gap=float(r.get(settings, "suspicious_gap", "settings", (int, float), default=0.05)),
        suspicious_params=r.get(settings, "suspicious_params", "settings", int, default=2_000_000),
        items=tuple(items), calibration=calibrated,
    )


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
