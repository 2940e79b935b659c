"""What to set on an LMS platform for this grader, from its limits (declared in grader/lms.py).

The items' limits count CPU seconds, so the platform's CPU share changes how long a grade takes, never its
score; the grader's outer limit is the wall time the items' CPU limits take at the platform's CPU share plus
batch.DEFAULT_MARGIN_S, within the platform's maximum. What a grade needs was measured by bench/platform_bench.py into
grader/templates/footprint.json: memory under the platform's cap, each item group's CPU seconds (compared
here with its CPU limit) and the wall time at the platform's share.
"""
from __future__ import annotations

import json
import math

from .batch import DEFAULT_MARGIN_S
from .bundle import PackageError
from .config import Config
from .lms import Platform
from .templates import text as template_text

FINALIZE_RESERVE_S = 60   # after the outer timeout: the kill grace (30 s), then rendering the results
CPU_HEADROOM = 0.75       # a group should need at most this part of its CPU limit


def footprint() -> dict:
    return json.loads(template_text("footprint.json"))


def outer_timeout(config: Config, platform: Platform, requested: float | None) -> tuple[int, list[str]]:
    """The grader's outer limit on `platform` and warnings; a limit the platform cannot give is an error."""
    needed = int(config.wall_budget_s(platform.cpus) + DEFAULT_MARGIN_S)
    ceiling = platform.max_timeout_s - FINALIZE_RESERVE_S
    limit, notes = int(requested or min(needed, ceiling)), []
    if limit > ceiling:
        raise PackageError(f"--timeout {limit:g} s leaves no time to write the results within {platform.name}'s "
                           f"{platform.max_timeout_s} s maximum: pass --timeout {ceiling} or less")
    if requested is None and needed > ceiling and config.device == "cuda":
        raise PackageError(
            f"profile {config.profile} trains with the GPU budget and needs {needed} s (the items' CPU limits at "
            f"{platform.cpus:g} CPU + "
            f"{DEFAULT_MARGIN_S:g} s), more than {platform.name}'s {platform.max_timeout_s // 60}-minute maximum "
            f"on its CPU: use --profile quick (calibrated for the CPU), or pass --timeout {ceiling} or less to "
            f"accept that slow submissions are cut short")
    if limit < needed:
        notes.append(f"the outer limit ({limit} s) is below what the items' CPU limits take at {platform.cpus:g} CPU "
                     f"+ margin ({needed} s): a submission that uses every item's full CPU time is stopped and its "
                     f"unfinished items score 0 (a correct one needs far less: see the measured time below)")
    return limit, notes


def _memory_advice(platform: Platform, run: dict) -> str:
    peak = max(run["cgroup_peak_mb"], run["rss_peak_mb"])
    if not run["oom_killed"] and run["memory_limit_mb"] <= platform.memory_mb:
        return (f"memory: {platform.name}'s default {platform.memory_mb} MB is enough (measured: the whole grade "
                f"peaks at {peak} MB, grader + workers, and ran to the end under a {run['memory_limit_mb']} MB cap)")
    return (f"memory: choose at least {256 * math.ceil(peak * 1.2 / 256)} MB (measured peak {peak} MB + 20%; "
            f"the default is {platform.memory_mb} MB)")


def _cpu_advice(platform: Platform, run: dict, config: Config) -> str:
    """Each item group's measured CPU seconds against its CPU limit: the share changes only the wall time."""
    limits = {i.id: i.cpu_limit_s for i in config.items}
    groups = [(g["cpu_s"], max(limits[i] for i in g["items"] if i in limits), g["items"][-1])
              for g in run.get("groups", []) if any(i in limits for i in g["items"])]
    if not groups:
        return "time: not measured"
    cpu, limit, item = max(groups, key=lambda g: g[0] / g[1])
    detail = f"the costliest group ({item}) used {cpu:g} CPU-seconds in all; its items' limit is {limit:g} per worker call"
    if cpu <= CPU_HEADROOM * limit:
        return (f"CPU: any share is enough: limits count CPU seconds, so {platform.name}'s {platform.cpus:g} CPU "
                f"changes how long a grade takes, never its score ({detail})")
    return (f"CPU: WARNING: {detail}, too close to it: raise the training items' cpu_limit_s (calibration) or "
            f"timeout_s in the rubric you package")


def advice(platform: Platform, limit: int, config: Config) -> list[str]:
    """What to set on the platform, from the measured footprint of a quick grade of the reference."""
    fp = footprint()
    run = fp.get("runs", {}).get(platform.footprint_run or "")
    lines = []
    if not run:
        lines.append("memory and CPU: not measured for this grader (run bench/platform_bench.py --write)")
    else:
        lines.append(f"measured {fp['measured']} with torch {fp['torch']} ({fp['how']}, profile {fp['profile']}):")
        lines.append(_memory_advice(platform, run))
        if config.profile == fp["profile"]:
            lines.append(_cpu_advice(platform, run, config))
            lines.append(f"the whole grade: {run['cpu_s']:g} CPU-seconds, about {run['cpu_s'] / platform.cpus:.0f} s "
                         f"at {platform.cpus:g} CPU on an idle machine (the grader's outer limit: {limit} s)")
    if platform.staff_sets_timeout:
        lines.append(f"timeout: set the autograder timeout to at least {math.ceil((limit + FINALIZE_RESERVE_S) / 60)} "
                     f"minutes (the grader stops itself after {limit} s and then writes the results)")
    return lines
