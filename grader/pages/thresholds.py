"""The credit scales of the trained items, read from the rubric's `calibration:` section for a profile."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from grader.config import DEFAULT_CONFIG
from grader.items import TRAINED
from grader.pages.charts import Scale

FORMATS = {spec.id: spec.shown for spec in TRAINED}    # how each trained item's metric is printed
METRIC = {spec.id: spec.metric for spec in TRAINED}    # the item metric each scale is about


def scales(rubric: str | os.PathLike | None, profile: str) -> dict[str, Scale]:
    """item id -> Scale; without thresholds (unreadable rubric, uncalibrated profile) the scale has none."""
    path = Path(rubric or os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG)
    try:
        calibration = ((yaml.safe_load(path.read_text()) or {}).get("calibration") or {}).get(profile) or {}
    except (OSError, yaml.YAMLError, AttributeError):
        calibration = {}
    out = {}
    for item_id, fmt in FORMATS.items():
        entry = calibration.get(item_id) if isinstance(calibration, dict) else None
        entry = entry if isinstance(entry, dict) else {}
        zero, full = entry.get("zero_at"), entry.get("full_at")
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (zero, full)) and full > zero
        out[item_id] = Scale(float(zero) if ok else None, float(full) if ok else None, fmt)
    return out
