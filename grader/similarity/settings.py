"""The `similarity:` section of grading.yaml: when a pair of submissions is listed for a human to look at.

Read from the rubric file itself (yaml.safe_load), so a batch fails at its start, with one error naming the
key, rather than after grading a whole class. A missing section means the defaults below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from grader.config import DEFAULT_CONFIG, REPO_ROOT, ConfigError


@dataclass(frozen=True)
class Settings:
    list_at: float = 0.6            # list a pair whose combined score reaches this (similarity.csv has all)
    behaviour_weight: float = 0.25  # combined = code + weight * behaviour * (1 - code)
    common_behaviour: int = 3       # identical behaviour of more students than this is the prescribed design
    max_pairs: int = 40             # pairs shown in the page, with their code side by side
    noise_t: int = 25               # copydetect: matches shorter than this (filtered characters) are ignored
    guarantee_t: int = 30           # copydetect: matches at least this long are always found
    starter: Path = REPO_ROOT / "student"   # the starter stubs: code found there is never evidence


_FRACTIONS = ("list_at", "behaviour_weight")
_COUNTS = ("common_behaviour", "max_pairs", "noise_t", "guarantee_t")


def load_settings(rubric: str | os.PathLike | None = None) -> Settings:
    path = Path(rubric or os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = (yaml.safe_load(path.read_text()) or {}).get("similarity", {})
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot read the similarity section ({exc})") from None
    if raw is None:
        return Settings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: similarity: expected a mapping of settings (list_at, ...), got {raw!r}")
    known = [f.name for f in fields(Settings)]
    values = {}
    for key, value in raw.items():
        where = f"{path}: similarity.{key}"
        if key not in known:
            raise ConfigError(f"{where}: unknown setting (known: {', '.join(known)})")
        if key in _FRACTIONS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"{where}: expected a number from 0 to 1, got {value!r}")
            value = float(value)
        elif key in _COUNTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}: expected a whole number of at least 1, got {value!r}")
        else:
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where}: expected the folder of the starter files, got {value!r}")
            value = (REPO_ROOT / value).resolve()   # the starter files ship with the grader, not the rubric
            if not value.is_dir():
                raise ConfigError(f"{where}: {value} is not a folder (relative paths start at the grader's "
                                  f"folder, {REPO_ROOT})")
        values[key] = value
    settings = Settings(**values)
    if settings.guarantee_t < settings.noise_t:
        raise ConfigError(f"{path}: similarity.guarantee_t ({settings.guarantee_t}) must be at least "
                          f"noise_t ({settings.noise_t}), as copydetect requires")
    return settings
