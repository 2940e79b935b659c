"""The `similarity:` section of grading.yaml: when a pair of submissions is listed for a human to look at.

Read from the rubric file itself (yaml.safe_load), so a batch fails at its start, with one error naming the
key, rather than after grading a whole class. A missing section means the defaults below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from grader.config import DEFAULT_CONFIG, REPO_ROOT, ConfigError
from grader.rubric_keys import SIMILARITY, unknown_key_problem


def _default(name: str):
    return SIMILARITY.key(name).default


@dataclass(frozen=True)
class Settings:
    """The section's values; what each means and its default are declared in grader/rubric_keys.py."""
    list_at: float = _default("list_at")
    behaviour_weight: float = _default("behaviour_weight")
    common_behaviour: int = _default("common_behaviour")
    max_pairs: int = _default("max_pairs")
    noise_t: int = _default("noise_t")
    guarantee_t: int = _default("guarantee_t")
    starter: Path = REPO_ROOT / _default("starter")


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
    values = {}
    for key, value in raw.items():
        where = f"{path}: similarity.{key}"
        if key not in SIMILARITY.names:
            raise ConfigError(f"{where}: {unknown_key_problem(key, SIMILARITY)}")
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
