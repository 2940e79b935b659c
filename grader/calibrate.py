"""`python -m grader calibrate`: measure a profile's thresholds from the reference over several seeds.

full_at = min(lowest seed, mean - 2 std) of the reference, so the reference earns full credit on every
calibrated seed and a student model within about 2 std of it does too. zero_at is a baseline measured
the same way, over the same seeds. grader/items.py declares, per trained item, the metric and how its baseline
is measured (a metric recorded on the same run, such as bicubic upsampling's PSNR, or a submission under
reference/, such as a linear classifier, trained with the same budget); this loops over its trained items.

The CPU limit of each trained item is measured too: CPU_MARGIN x the most CPU seconds any seed's costliest
worker call used, plus CPU_SLACK_S. The margin covers a slower CPU (a student's old laptop), CPU time inflated
by other load on the same cores (measured: up to 1.4x), and an honest model several times the reference's
cost; an endless loop still ends within a minute or two of CPU.
"""
from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import statistics
import time

from . import oracle
from .config import REPO_ROOT, load_config, write_calibration
from .items import SPECS
from .orchestrator import grade
from .data import Datasets
from .errors import ConfigError


CPU_MARGIN = 6
CPU_SLACK_S = 30


def cpu_limit(cpu_runs: list[float]) -> float:
    return float(round(CPU_MARGIN * max(cpu_runs) + CPU_SLACK_S))


def summarize(item_id: str, measured: list[float], baseline: list[float], device: str,
              cpu_runs: list[float] | None = None) -> dict:
    """Thresholds and the evidence for them, from the reference's per-seed results and the baseline's."""
    mean = statistics.fmean(measured)
    std = statistics.stdev(measured) if len(measured) > 1 else 0.0
    zero = statistics.fmean(baseline)
    full = min(min(measured), mean - 2 * std)
    if full <= zero:
        raise RuntimeError(f"calibration: the reference ({mean:.4f} +- {std:.4f}) does not clearly beat the "
                           f"baseline ({zero:.4f}) for {item_id}: raise the training budget")
    return {
        "zero_at": round(zero, 4), "full_at": round(full, 4),
        "reference_mean": round(mean, 4), "reference_std": round(std, 4),
        "reference_runs": [round(v, 4) for v in measured],
        "baseline": SPECS[item_id].baseline,
        "seeds": len(measured), "device": device,
        "gpu": oracle.environment()["gpu"] if device == "cuda" else "none (calibrated on CPU)",
        "torch": importlib.metadata.version("torch"), "date": datetime.date.today().isoformat(),
        **({"cpu_s": round(statistics.fmean(cpu_runs), 2), "cpu_s_max": round(max(cpu_runs), 2),
            "cpu_limit_s": cpu_limit(cpu_runs)} if cpu_runs else {}),
    }


def _measured(result, metric: str, failure: str) -> float:
    """`metric` of one graded item, or a RuntimeError saying what failed (with the grader's message)."""
    if result.status == "error" or metric not in result.metrics:
        raise RuntimeError(f"calibration: {failure}: {result.output}")
    return result.metrics[metric]


def calibrate(profile: str, seeds: int, data: Datasets, config_path: str | None = None) -> dict:
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: calibration needs at least 1 seed (3 or more measure the spread)")
    reference = REPO_ROOT / "reference"
    if not (reference / "model.py").is_file():
        raise ConfigError(f"calibrate trains the reference solution, and {reference} has none: run it in the "
                          f"grader's repository (a handout leaves the reference out)")
    config = load_config(config_path, profile, require_thresholds=False)
    # the reference is trusted: generous timeouts, so a busy machine slows calibration instead of failing it
    trained = tuple(dataclasses.replace(i, timeout_s=10 * i.timeout_s, calibrated_cpu_s=None) for i in config.items
                    if SPECS[i.id].trained)
    if not trained:
        raise ConfigError(f"{config.path}: no trained item to calibrate (grader/items.py declares which are)")
    config = dataclasses.replace(config, items=trained)
    runs: dict[str, list[float]] = {i.id: [] for i in trained}
    baselines: dict[str, list[float]] = {i.id: [] for i in trained}
    cpu_runs: dict[str, list[float]] = {i.id: [] for i in trained}
    # items whose baseline is another submission, graded with the same budget: {folder under reference/: items}
    baseline_items: dict[str, list] = {}
    for i in trained:
        if SPECS[i.id].baseline_submission:
            baseline_items.setdefault(SPECS[i.id].baseline_submission, []).append(i)
    started = time.monotonic()
    for seed in range(seeds):
        report = grade(reference, config, data, seed=seed)
        device = report.device
        for t in report.tests:
            spec = SPECS[t.id]
            runs[t.id].append(_measured(t, spec.metric, f"the reference failed {t.id} with seed {seed}"))
            cpu_runs[t.id].append(t.cpu_s)
            if spec.baseline_metric:
                baselines[t.id].append(_measured(t, spec.baseline_metric, f"{t.id} recorded no "
                                                 f"{spec.baseline_metric} with seed {seed}"))
        for folder, items in baseline_items.items():
            graded = grade(reference / folder, dataclasses.replace(config, items=tuple(items)), data, seed=seed)
            for t in graded.tests:
                baselines[t.id].append(_measured(t, SPECS[t.id].metric,
                                                 f"the baseline reference/{folder} failed {t.id} with seed {seed}"))
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f} (baseline {baselines[k][-1]:.4f})"
                                           for k, v in runs.items()), flush=True)
    values = {item_id: summarize(item_id, measured, baselines[item_id], device, cpu_runs[item_id])
              for item_id, measured in runs.items()}
    write_calibration(config.path, profile, values)
    print(f"wrote {profile} thresholds to {config.path} ({time.monotonic() - started:.0f} s):")
    for item_id, v in values.items():
        print(f"  {item_id}: zero_at {v['zero_at']}, full_at {v['full_at']} "
              f"(reference {v['reference_mean']} +- {v['reference_std']} over {seeds} seeds, {v['device']}); "
              f"CPU limit {v['cpu_limit_s']:g} s (reference: {v['cpu_s_max']:g} s at most)")
    return values
