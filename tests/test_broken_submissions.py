"""Broken submissions, graded for real (fast rubric, `process` sandbox): the score, status and wording each
item must get, and that a bug in one part costs that part only.

Independent bugs share one submission (a pixel_shuffle.py bug with a model.py bug) to keep the number of
grades small; items that a submission leaves intact are compared with a reference grade under the same rubric.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import DATA, REFERENCE, STUDENT, by_id, drop_calibrated_cpu_limits, fast_rubric, write_submission
from grader.cases import SHUFFLE_CASES
from grader.config import DEFAULT_CONFIG, load_config
from grader.orchestrator import grade
from grader.result import read_report

SHUFFLE_IDS = ("pixel_shuffle.shapes", "pixel_shuffle.values", "pixel_shuffle.einops", "pixel_shuffle.module",
               "pixel_unshuffle.values")
CNN_IDS = ("cnn.interface", "cnn.accuracy")
SR_IDS = ("sr.interface", "sr.psnr")
ALL_IDS = SHUFFLE_IDS + CNN_IDS + SR_IDS

REF_MODEL = (REFERENCE / "model.py").read_text()
REF_SHUFFLE = (REFERENCE / "pixel_shuffle.py").read_text()
RIGHT_PATTERN = '"... (c r1 r2) h w -> ... c (h r1) (w r2)"'
assert RIGHT_PATTERN in REF_SHUFFLE

# model.py that does not need pixel_shuffle.py: the same einops shuffle, so Net trains exactly like the reference
LOCAL_SHUFFLE = '''from einops import rearrange


class PixelShuffle(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        r = self.upscale_factor
        return rearrange(x, "... (c r1 r2) h w -> ... c (h r1) (w r2)", r1=r, r2=r)
'''
SELF_CONTAINED_MODEL = REF_MODEL.replace("from pixel_shuffle import PixelShuffle\n", LOCAL_SHUFFLE)
assert SELF_CONTAINED_MODEL != REF_MODEL


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} not found exactly once"
    return text.replace(old, new)


class Soft:
    """Collect every failed expectation of a grade, so one run reports all of them."""

    def __init__(self, report):
        self.report, self.items, self.problems = report, by_id(report), []

    def check(self, ok: bool, what: str, item_id: str | None = None):
        if not ok:
            extra = ""
            if item_id:
                t = self.items[item_id]
                extra = f"\n    [{item_id}: score {t.score}/{t.max_score}, status {t.status}]\n    " + \
                        t.output.replace("\n", "\n    ")
            self.problems.append(what + extra)

    def item(self, item_id, *, score=None, status=None, contains=(), any_of=()):
        t = self.items[item_id]
        if score is not None:
            self.check(abs(t.score - score) < 1e-9, f"{item_id}: expected score {score}", item_id)
        if status is not None:
            want = (status,) if isinstance(status, str) else status
            self.check(t.status in want, f"{item_id}: expected status {' or '.join(want)}", item_id)
        for text in contains:
            self.check(text.lower() in t.output.lower(), f"{item_id}: message should mention {text!r}", item_id)
        if any_of:
            self.check(any(s.lower() in t.output.lower() for s in any_of),
                       f"{item_id}: message should mention one of {any_of}", item_id)

    def same_as(self, baseline, *ids):
        """These items were not touched by the bug: same score, status and measured metric as the reference."""
        base = by_id(baseline)
        for i in ids:
            t, b = self.items[i], base[i]
            self.check((t.score, t.status) == (b.score, b.status),
                       f"{i}: should keep the reference's {b.score} ({b.status})", i)
            for key in ("accuracy", "psnr", "passed"):
                if key in b.metrics:
                    self.check(t.metrics.get(key) == b.metrics[key],
                               f"{i}: metric {key} {t.metrics.get(key)} != reference {b.metrics[key]}", i)

    def done(self):
        assert not self.problems, "\n".join(self.problems)


def check_report(report, out: Path, ids=ALL_IDS):
    """Invariants every grade must satisfy, broken submission or not."""
    assert report.complete, "the report must be complete"
    assert [t.id for t in report.tests] == list(ids)
    assert report.score == pytest.approx(round(sum(t.score for t in report.tests), 2), abs=1e-9)
    assert report.max_score == sum(t.max_score for t in report.tests)
    for t in report.tests:
        assert 0 <= t.score <= t.max_score, t
        assert t.output.strip(), f"{t.id} has an empty message"
        assert not t.output.startswith("not graded"), f"{t.id} was never graded: {t.output}"
        assert (t.status == "passed") == (t.score == t.max_score), t
        if t.status in ("failed", "error"):
            assert t.score == 0, t
    assert out.is_file(), "grade(out=...) must write the JSON report"
    again = read_report(out)
    assert again.to_dict() == json.loads(json.dumps(report.to_dict(), default=str))
    assert again.score == report.score


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The reference solution under the same fast rubric: what untouched items must keep."""
    tmp = tmp_path_factory.mktemp("baseline")
    config = load_config(fast_rubric(tmp / "fast.yaml"), "quick")
    out = tmp / "r.json"
    report = grade(write_submission(tmp / "ref"), config, DATA, sandbox="process", out=out)
    check_report(report, out)
    for i in SHUFFLE_IDS + ("cnn.interface", "sr.interface"):
        assert by_id(report)[i].status == "passed", by_id(report)[i]
    assert "accuracy" in by_id(report)["cnn.accuracy"].metrics and "psnr" in by_id(report)["sr.psnr"].metrics
    return report


@pytest.fixture
def graded(grade_files, tmp_path):
    counter = iter(range(100))

    def run(ids=ALL_IDS, **kwargs):
        out = tmp_path / f"r{next(counter)}.json"
        report = grade_files(out=out, **kwargs)
        check_report(report, out, ids)
        return report
    return run


def rubric_with(tmp_path: Path, keep=ALL_IDS, timeouts: dict[str, float] | None = None):
    """The fast rubric, restricted to `keep`, with some items' time limits overridden."""
    path = fast_rubric(tmp_path / "fast_custom.yaml")
    raw = yaml.safe_load(path.read_text())
    raw["items"] = [i for i in raw["items"] if i["id"] in keep]
    for i in raw["items"]:
        if timeouts and i["id"] in timeouts:
            i["timeout_s"] = timeouts[i["id"]]
    drop_calibrated_cpu_limits(raw, timeouts or ())
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(path, "quick")


# ------------------------------------------------------------------ (a) the unmodified stubs
def test_stubs_score_zero_and_say_stub(graded):
    report = graded(model=(STUDENT / "model.py").read_text(), pixel_shuffle=(STUDENT / "pixel_shuffle.py").read_text())
    s = Soft(report)
    s.check(report.score == 0, f"stubs must score 0, got {report.score}")
    for i in ALL_IDS:
        s.item(i, score=0, status=("failed", "error"), any_of=("NotImplementedError", "stub"))
    s.done()


# ------------------------------------------------------------------ (b) + (e)
def test_wrong_channel_order_and_cnn_forward_raising(graded, baseline):
    shuffle = edit(REF_SHUFFLE, RIGHT_PATTERN, '"... (r1 r2 c) h w -> ... c (h r1) (w r2)"')
    model = edit(SELF_CONTAINED_MODEL, "embedding = self.features(x).flatten(1)",
                 'raise ValueError("forward exploded on purpose 4711")')
    report = graded(model=model, pixel_shuffle=shuffle)
    s = Soft(report)
    one_channel = sum(1 for shape, r, _ in SHUFFLE_CASES if shape[-3] == r * r)
    s.check(one_channel == 0, "no graded case may have one output channel: (r1 r2 c) would pass it")
    s.item("pixel_shuffle.shapes", score=5, status="passed")
    s.item("pixel_shuffle.values", score=round(10 * one_channel / len(SHUFFLE_CASES), 2),
           status="partial" if one_channel else "failed",
           contains=(f"{one_channel} of {len(SHUFFLE_CASES)} cases correct", "(r1 r2 c)", "differ from torch's"))
    values = s.items["pixel_shuffle.values"].output
    s.check(values.count("(r1 r2 c)") == len(SHUFFLE_CASES) - one_channel,
            "every case with C>1 must name the (r1 r2 c) order", "pixel_shuffle.values")
    s.item("pixel_shuffle.einops", score=5, status="passed")
    s.item("pixel_shuffle.module", score=0, status="failed", contains=("(r1 r2 c)",))
    s.same_as(baseline, "pixel_unshuffle.values", "sr.interface", "sr.psnr")
    for i in CNN_IDS:
        s.item(i, score=0, status=("error", "failed"), contains=("ValueError", "forward exploded on purpose 4711"))
    s.done()


# ------------------------------------------------------------------ (c) torch's own shuffle, however reached
TORCH_SHUFFLES = {
    "imported": "import torch.nn.functional as F\n\n\ndef pixel_shuffle(x, upscale_factor):\n"
                "    return F.pixel_shuffle(x, upscale_factor)\n",
    "aliased": "from torch.nn.functional import pixel_shuffle as _helper\n\n\ndef pixel_shuffle(x, upscale_factor):\n"
               "    return _helper(x, upscale_factor)\n",
    "getattr": "def pixel_shuffle(x, upscale_factor):\n"
               "    return getattr(torch.nn.functional, 'pixel_' + 'shuffle')(x, upscale_factor)\n",
    "default_argument": "def pixel_shuffle(x, upscale_factor, _impl=torch.nn.functional.pixel_shuffle):\n"
                        "    return _impl(x, upscale_factor)\n",
    "module_behind_einops": "def pixel_shuffle(x, upscale_factor):\n"
                            "    y = torch.nn.PixelShuffle(upscale_factor)(x)\n"
                            "    return rearrange(y, '... h w -> ... h w')   # einops runs too, as a decoy\n",
}


@pytest.mark.parametrize("how", sorted(TORCH_SHUFFLES))
def test_torch_pixel_shuffle_earns_no_einops_credit(how, graded, tmp_path):
    start, end = REF_SHUFFLE.index("def pixel_shuffle("), REF_SHUFFLE.index("def pixel_unshuffle(")
    shuffle = REF_SHUFFLE[:start] + TORCH_SHUFFLES[how] + "\n\n" + REF_SHUFFLE[end:]
    report = graded(pixel_shuffle=shuffle, config=rubric_with(tmp_path, keep=SHUFFLE_IDS), ids=SHUFFLE_IDS)
    s = Soft(report)
    s.check([t.id for t in report.tests] == list(SHUFFLE_IDS), "only the shuffle items were asked for")
    # decided by the trusted static check of pixel_shuffle.py, naming the line; the trace agrees
    s.item("pixel_shuffle.einops", score=0, status="failed", contains=("static check", "line ", "einops"))
    s.check(s.items["pixel_shuffle.einops"].metrics.get("torch_shuffle") is True, "metrics.torch_shuffle",
            "pixel_shuffle.einops")
    s.check(s.items["pixel_shuffle.einops"].metrics.get("evidence") == "static", "metrics.evidence",
            "pixel_shuffle.einops")
    s.item("pixel_shuffle.shapes", score=5, status="passed")
    s.item("pixel_shuffle.values", score=0, contains=("static check", "pixel_shuffle.py line"))
    s.item("pixel_shuffle.module", score=0, contains=("static check", "pixel_shuffle.py line"))
    s.item("pixel_unshuffle.values", score=5, status="passed")
    s.check(report.score == pytest.approx(sum(t.score for t in report.tests)), "score is the sum")
    s.done()


# ------------------------------------------------------------------ (d) a syntax error in model.py
def test_syntax_error_in_model_costs_the_model_items_only(graded, baseline):
    lines = REF_MODEL.split("\n")
    bad_line = 12
    lines.insert(bad_line - 1, "def broken(:")
    report = graded(model="\n".join(lines))
    s = Soft(report)
    for i in CNN_IDS + SR_IDS:
        s.item(i, score=0, status="error", contains=("syntax error", f"line {bad_line}", "model.py"))
    s.same_as(baseline, *SHUFFLE_IDS)
    s.check(report.score == sum(by_id(baseline)[i].score for i in SHUFFLE_IDS), "score = the shuffle items' full marks")
    s.done()


# ------------------------------------------------------------------ (f) + (h, CNN) a crash and a missing output
def test_crash_in_net_and_cnn_returning_only_logits(graded, baseline):
    model = edit(REF_MODEL, "        x = self.relu(self.conv1(x))\n",
                 "        import os\n        os._exit(3)\n")
    model = edit(model, "return self.out(embedding), embedding", "return self.out(embedding)")
    report = graded(model=model)
    s = Soft(report)
    for i in SR_IDS:
        s.item(i, score=0, status="error", contains=("exited with status 3",))
    s.item("cnn.interface", score=0, status="failed", contains=("(logits, embedding)", "got a tensor of shape (3, 10)"))
    s.item("cnn.accuracy", score=0, status="error", contains=("(logits, embedding)", "got a tensor of shape"))
    s.same_as(baseline, *SHUFFLE_IDS)
    s.done()


# ------------------------------------------------------------------ (g) + (i) a hang and NaN outputs
def test_hang_in_cnn_and_nan_outputs_from_net(graded, baseline, tmp_path):
    model = edit(REF_MODEL, "        super().__init__()\n        self.features",
                 "        super().__init__()\n        while True:\n            pass\n        self.features")
    model = edit(model, "        return self.pixel_shuffle(self.conv4(x))",
                 "        out = self.pixel_shuffle(self.conv4(x))\n"
                 "        return out if self.training else out * float('nan')")
    config = rubric_with(tmp_path, timeouts={"cnn.interface": 8, "cnn.accuracy": 8})   # CPU seconds: a loop uses them all
    report = graded(model=model, config=config)
    s = Soft(report)
    for i in CNN_IDS:
        s.item(i, score=0, status="error", contains=("time limit of 8 s",))
        s.check(s.items[i].metrics.get("failure") == "timeout", f"{i}: metrics.failure should be 'timeout'", i)
    s.item("sr.psnr", score=0, status="failed", contains=("NaN",))
    s.check(s.items["sr.psnr"].metrics.get("nan_images") == 100, "all 100 test outputs are NaN", "sr.psnr")
    s.same_as(baseline, *SHUFFLE_IDS)
    s.check(report.complete, "report must be complete after a hang")
    s.done()


# ------------------------------------------------------------------ (h, Net) + (j) no pixel shuffle in Net, no pixel_shuffle.py
def test_missing_shuffle_file_and_net_without_shuffle(fast_config, tmp_path, baseline):
    model = edit(SELF_CONTAINED_MODEL, "return self.pixel_shuffle(self.conv4(x))", "return self.conv4(x)")
    folder = write_submission(tmp_path / "sub", model=model)
    (folder / "pixel_shuffle.py").unlink()
    out = tmp_path / "r.json"
    report = grade(folder, fast_config, DATA, sandbox="process", out=out)
    check_report(report, out)
    s = Soft(report)
    for i in SHUFFLE_IDS:
        s.item(i, score=0, status="error", contains=("pixel_shuffle.py", "missing", str(folder)))
    s.item("sr.interface", score=0, status="failed",
           contains=("expected output (2, 1, 34, 46), got (2, 4, 17, 23)",
                     "expected output (2, 1, 51, 69), got (2, 9, 17, 23)",
                     "expected output (2, 1, 68, 92), got (2, 16, 17, 23)",
                     "r*r = 4 channels at the input size: the last conv's output is not pixel-shuffled",
                     "end forward with your PixelShuffle(3)"))
    batch = load_config(DEFAULT_CONFIG, "quick").item("sr.psnr").train["batch_size"]   # the rubric's SR batch
    s.item("sr.psnr", score=0, status=("error", "failed"),
           contains=(f"expected ({batch}, 1, 64, 64)", "r*r = 4 channels at the input size", "not pixel-shuffled"))
    s.same_as(baseline, *CNN_IDS)
    s.done()
