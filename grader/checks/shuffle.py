"""Pixel shuffle items: the student's pixel_shuffle / PixelShuffle / pixel_unshuffle against torch's, exactly.

Every case's input is a permutation of 0..n-1 (grader/cases.py), so any misplaced element shows; torch's
answers come from the oracle cache. *What ran* has two witnesses: the static check of pixel_shuffle.py on
this side (reaching torch's own shuffle, or escaping the worker's tracer, is decided there and cannot be
edited by running code), and the worker's trace (torch's shuffle kernels logged, einops seen running), which
the student's process could forge and so only ever takes credit away (evidence.py).
"""
from __future__ import annotations

import itertools

import numpy as np
from einops import rearrange

from .. import oracle
from ..cases import CHECK_CASES, grad_weight, make_case
from ..paths import DataPaths
from ..result import ItemResult
from ..sandbox import WorkerFailure
from ..staticcheck import FileCheck
from .evidence import flag_findings
from .run import Run

GROUP = "shuffle"
WEIGHT = 1    # CPU seconds of its worker calls, roughly: the groups that cost most start first
VALUES = {"pixel_shuffle": ("pixel_shuffle.values", "values equal torch.nn.functional.pixel_shuffle exactly"),
          "PixelShuffle": ("pixel_shuffle.module", "PixelShuffle(r) output and input gradient equal nn.PixelShuffle's"),
          "pixel_unshuffle": ("pixel_unshuffle.values", "values equal torch.nn.functional.pixel_unshuffle exactly")}


def score(run: Run) -> None:
    r = run.results
    check = run.static("pixel_shuffle.py")
    flag_findings(run, check)
    for fn, (item_id, what) in VALUES.items():
        if not run.wants(fn):
            continue
        outcomes = compare_cases(run, fn)
        if outcomes is None:
            continue
        if fn == "pixel_shuffle" and "pixel_shuffle.shapes" in r:
            score_cases(r["pixel_shuffle.shapes"], outcomes, "shape_ok", "shapes match torch's")
        if item_id in r:
            score_values(r[item_id], outcomes, what, check.reason(fn) if check else "")
        if fn == "pixel_shuffle" and "pixel_shuffle.einops" in r:
            score_einops(r["pixel_shuffle.einops"], outcomes, check, run.flags)


def prepare(config, data) -> None:
    for fn in CHECK_CASES:
        torch_answers(data.paths, fn)


def torch_answers(paths: DataPaths, fn: str) -> dict[str, np.ndarray]:
    """torch's F.pixel_shuffle / F.pixel_unshuffle of each case of `fn` (and input gradients for the module)."""
    return oracle.load(paths, oracle.shuffle_file(fn))


def compare_cases(run: Run, fn: str) -> list[dict] | None:
    """Send the cases of `fn` to the worker; return one outcome per case (shape, values, what ran, message)."""
    expected = torch_answers(run.data.paths, fn)
    sent, specs = [], []
    for k, (shape, r, transposed) in enumerate(CHECK_CASES[fn]):
        x, stored = make_case(shape, transposed, seed=k)
        spec = {"input": run.session.write_input(f"{fn}_{k}", stored), "factor": r, "transposed": transposed}
        if fn == "PixelShuffle":
            spec["grad_weight"] = run.session.write_input(f"{fn}_{k}_w", grad_weight(expected[f"out{k}"].shape, k))
        sent.append((x, r, transposed, expected[f"out{k}"], expected.get(f"grad{k}")))
        specs.append(spec)
    reply = run.call(fn, task="shuffle", fn=fn, cases=specs)
    if reply is None:
        return None
    case_replies = reply.get("cases") if isinstance(reply.get("cases"), list) else []
    outcomes = []
    for (x, r, transposed, want, want_grad), case_reply in itertools.zip_longest(
            sent, case_replies[:len(sent)], fillvalue=None):
        desc = f"input {tuple(x.shape)}{' (non-contiguous)' if transposed else ''}, r={r}"
        outcome = {"desc": desc, "returned": False, "shape_ok": False, "value_ok": False, "torch_shuffle": False,
                   "einops": False}
        try:
            outcome["message"] = judge_case(run, fn, x, r, want_grad, case_reply, want, outcome)
        except WorkerFailure as failure:
            outcome["message"] = str(failure)
        outcome["message"] = f"{desc}: {outcome['message']}" if outcome["message"] else ""
        outcomes.append(outcome)
    return outcomes


def judge_case(run: Run, fn, x, r, expected_grad, case_reply, expected: np.ndarray, o: dict) -> str:
    """Fill the outcome flags for one case; return what is wrong ('' when nothing is)."""
    if not isinstance(case_reply, dict) or "error" in case_reply:
        return str(case_reply.get("error")) if isinstance(case_reply, dict) else "no result came back"
    out = run.session.read_output(case_reply.get("output"))
    o["returned"] = True
    ops = case_reply.get("ops") if isinstance(case_reply.get("ops"), list) else []
    o["torch_shuffle"] = any(op in ("pixel_shuffle", "pixel_unshuffle") for op in ops)
    o["einops"] = case_reply.get("einops") is True
    o["shape_ok"] = out.shape == expected.shape
    if o["torch_shuffle"]:
        return (f"this ran torch's own {', '.join(op for op in ops if 'shuffle' in op)}; "
                f"the exercise is to write it with einops")
    if not o["shape_ok"]:
        return f"expected output shape {expected.shape}, got {out.shape}"
    if out.dtype != expected.dtype:
        return f"expected dtype {expected.dtype} (the input's), got {out.dtype}"
    if not np.array_equal(out, expected):
        hint = channel_order_mistake(out, x, r, unshuffle=fn == "pixel_unshuffle")
        return (f"{int((out != expected).sum())} of {out.size} values differ from torch's"
                + (f"; {hint}" if hint else ""))
    if expected_grad is not None:
        grad = run.session.read_output(case_reply.get("grad"))
        if not np.array_equal(grad, expected_grad):
            return "the values match, but the gradient with respect to the input does not"
    o["value_ok"] = True
    return ""


def channel_order_mistake(out: np.ndarray, x: np.ndarray, r: int, unshuffle: bool = False) -> str | None:
    """Name the einops channel grouping the student used, if it is one of the wrong ones."""
    for order in itertools.permutations(("c", "r1", "r2")):
        if order == ("c", "r1", "r2"):
            continue
        grouped, spatial = f"... ({' '.join(order)}) h w", "... c (h r1) (w r2)"
        pattern = f"{spatial} -> {grouped}" if unshuffle else f"{grouped} -> {spatial}"
        candidate = rearrange(x, pattern, r1=r, r2=r)
        if candidate.shape == out.shape and np.array_equal(candidate, out):
            if unshuffle:
                return (f"the output channels are grouped as ({' '.join(order)}), but torch packs them as "
                        f"(c r1 r2): each input channel's r*r sub-pixels become neighbouring channels")
            return (f"the channel axis is split as ({' '.join(order)}), but torch packs it as (c r1 r2): "
                    f"each output channel's r*r sub-pixels are neighbours in the input")
    return None


def score_cases(item: ItemResult, outcomes: list[dict], key: str, what: str, **metrics) -> None:
    passed = [o for o in outcomes if o[key]]
    failures = [o["message"] for o in outcomes if not o[key] and o["message"]]
    if len(passed) == len(outcomes):
        item.set(1.0, f"All {len(outcomes)} cases: {what} ({'; '.join(o['desc'] for o in outcomes)}).",
                 cases=len(outcomes), passed=len(passed), **metrics)
    else:
        item.set(len(passed) / len(outcomes),
                 f"{len(passed)} of {len(outcomes)} cases correct. Expected vs got:\n- " + "\n- ".join(failures),
                 cases=len(outcomes), passed=len(passed), **metrics)


def score_values(item: ItemResult, outcomes: list[dict], what: str, static_reason: str) -> None:
    """Values are compared here with torch's; a case whose computation ran torch's own shuffle earns nothing,
    and when the static check finds a route to it (or around the tracer), no case does."""
    if static_reason:
        right = sum(o["value_ok"] for o in outcomes)
        shown = "".join(f"\n- {o['message']}" for o in outcomes if not o["value_ok"] and o["message"])
        item.set(0, f"0 of {len(outcomes)} cases credited. {static_reason}\nThe exercise is to write it with "
                    f"einops; this was decided by the static check of pixel_shuffle.py. (What the outputs showed: "
                    f"{right} of {len(outcomes)} cases equal torch's{shown})",
                 cases=len(outcomes), passed=0, evidence="static")
        return
    traced = any(o["torch_shuffle"] for o in outcomes)
    score_cases(item, outcomes, "value_ok", what, evidence="trace" if traced else "static+trace")


def score_einops(item: ItemResult, outcomes: list[dict], check: FileCheck | None, flags: list[str]) -> None:
    ran = [o for o in outcomes if o["returned"]]
    static = check.reason("pixel_shuffle") if check else ""
    if not ran:
        item.set(0, "pixel_shuffle did not return a tensor for any case, so there is no einops work to check:\n- "
                 + "\n- ".join(o["message"] for o in outcomes))
    elif static:
        item.set(0, f"{static}\nDecided by the static check of pixel_shuffle.py (what the worker reports about "
                    f"what ran is not needed). Write pixel_shuffle with einops.rearrange.",
                 evidence="static", torch_shuffle=any(o["torch_shuffle"] for o in outcomes) or
                 any(f.kind == "torch_shuffle" for f in check.against("pixel_shuffle")))
    elif check is None or "pixel_shuffle" not in check.einops_in:
        item.set(0, "pixel_shuffle's code (with the functions and classes it uses) never uses einops: write it "
                    "with einops.rearrange. Decided by the static check of pixel_shuffle.py.",
                 evidence="static", einops=False)
    elif any(o["torch_shuffle"] for o in outcomes):
        item.set(0, "pixel_shuffle calls torch's own pixel shuffle (however it is reached, it shows up as "
                    "aten::pixel_shuffle when your function runs). Write it with einops.rearrange instead. "
                    "Decided by the worker's trace.", evidence="trace", torch_shuffle=True)
        flags.append("pixel_shuffle.einops: the worker saw torch's own pixel_shuffle run, but the static check of "
                     "pixel_shuffle.py found no route to it: a way around the static check?")
    elif not all(o["einops"] for o in ran):
        item.set(0, "no einops code ran while pixel_shuffle executed: use einops.rearrange (the exercise). "
                    "Decided by the worker's trace.", evidence="trace", einops=False)
    else:
        item.set(1.0, "einops did the work. Evidence: the static check of pixel_shuffle.py finds einops in "
                      "pixel_shuffle's code and no route to torch's own shuffle or around the grader's tracer, "
                      "and the worker's trace agrees (einops ran in every case, torch's shuffle never did).",
                 einops=True, evidence="static+trace")
