"""Forged worker replies: student code can reach the reply channel, so a reply that is well-formed JSON with the
right token may still carry wrong types. The trusted side checks every reply's shape (grader/checks/replies.py):
a bad reply fails only the items scored from that call, flagged, and never crashes the grader (issue 17, bug 3).

The replies come from a fake session, as the worker protocol would deliver them; the checks are the real ones.
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import DATA
from grader.checks import cnn, shuffle, sr
from grader.checks.replies import REPLIES, reply_problem
from grader.checks.run import Run
from grader.config import load_config
from grader.result import ItemResult
from grader.sandbox.cpuclock import Usage

STUB = "pixel_shuffle raises NotImplementedError: it is still the stub"


class ForgingSession:
    """Answers each worker call with the reply given for its task (or shuffle function); arrays by name."""

    limits = SimpleNamespace(use_cuda=False)
    last_usage = Usage()   # what a real session measured of its last call

    def __init__(self, replies: dict[str, dict], arrays: dict | None = None):
        self.replies, self.arrays = replies, dict(arrays or {})

    def write_input(self, name, array):
        return name

    def read_output(self, rel):
        return self.arrays[rel]

    def call(self, task, timeout_s, on_progress=None, **params):
        return {"ok": True, "result": copy.deepcopy(self.replies[params.get("fn", task)]), "printed": ""}

    def stop_worker(self):   # a Run's fresh_session may hand this same session back (as `with`)
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def graded(item_ids, session) -> Run:
    config = load_config(None, "quick")
    results = {i: ItemResult(i, config.item(i).name, config.item(i).points) for i in item_ids}
    return Run(config, DATA, results, session, lambda *a: None, np.random.default_rng(0))


FORGED = {   # the reply each check used to crash on
    "a string size (cnn.py)": (cnn, "cnn.interface", "cnn_interface",
                               {"logits": "logits", "embedding": "embedding", "size": "1000", "trainable": 5},
                               "size: expected int, got '1000'"),
    "a list of factors (sr.py)": (sr, "sr.interface", "sr_interface", {"factors": ["2", "3"]},
                                  "factors: expected a mapping of at most 1000 entries, got ['2', '3']"),
    "a factor's list entry (sr.py)": (sr, "sr.interface", "sr_interface", {"factors": {"2": ["output"]}},
                                      "factors.2: expected a mapping, got ['output']"),
    "a bool count (cnn.py)": (cnn, "cnn.interface", "cnn_interface", {"size": 10, "trainable": True},
                              "trainable: expected int, got True"),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_reply_is_an_error_of_its_items_not_a_crash(case):
    module, item_id, task, forged, problem = FORGED[case]
    arrays = {"logits": np.zeros((3, 10), np.float32), "embedding": np.zeros((3, 4), np.float32)}
    run = graded([item_id], ForgingSession({task: forged}, arrays))
    module.score(run)
    result = run.results[item_id]
    assert result.status == "error" and result.score == 0, result.output
    assert f"malformed reply ({problem})" in result.output and result.metrics.get("failure") == "protocol"
    assert any(problem in flag for flag in run.flags), run.flags


def test_a_forged_reply_costs_only_the_items_it_owns():
    # pixel_unshuffle's reply is forged; pixel_shuffle's and PixelShuffle's are honest (the stub raised)
    honest = {"cases": [{"error": STUB}] * 10}
    run = graded(("pixel_shuffle.shapes", "pixel_shuffle.values", "pixel_shuffle.module", "pixel_unshuffle.values"),
                 ForgingSession({"pixel_shuffle": honest, "PixelShuffle": honest,
                                 "pixel_unshuffle": {"cases": [{"ops": "aten::pixel_unshuffle"}]}}))
    shuffle.score(run)
    forged = run.results["pixel_unshuffle.values"]
    assert forged.status == "error" and "cases[0].ops: expected a list" in forged.output
    for item_id in ("pixel_shuffle.shapes", "pixel_shuffle.values", "pixel_shuffle.module"):
        assert run.results[item_id].status == "failed" and STUB in run.results[item_id].output, item_id
    assert len(run.flags) == 1 and run.flags[0].startswith("pixel_unshuffle.values: malformed worker reply")


def test_replies_the_worker_really_sends_pass():
    # the shapes grader/worker/tasks.py returns (the full grades in test_trusted_side.py use them all)
    state = [{"name": "conv.weight", "file": "out/state_0.npy"}]
    trained = {"state": state, "losses": [[0, 2.3], [10, 1.1]], "size": 7850, "size_after": 7850, "trainable": 7850}
    real = {
        "shuffle": {"cases": [{"output": "out/a.npy", "ops": ["aten::view"], "einops": True}, {"error": STUB},
                              {"output": "out/b.npy", "grad": "out/g.npy", "ops": [], "einops": False}]},
        "cnn_interface": {"logits": "out/l.npy", "embedding": "out/e.npy", "size": 10, "trainable": 10},
        "cnn_train": trained,
        "cnn_eval": {"predictions": "out/p.npy", "untrained": "out/u.npy", "buffers_only": None, "size": 10,
                     "embedding": "out/e.npy", "first_conv": "out/f.npy"},
        "sr_interface": {"factors": {"2": {"output": "out/s.npy", "trainable": 5, "size": 5}, "3": {"error": "x"}}},
        "sr_train": {**trained, "losses": [[0, float("nan")]]},
        "sr_eval": {"outputs": "out/o.npy", "pretrain_outputs": "out/q.npy", "size": 10},
    }
    assert set(real) == set(REPLIES)
    for task, reply in real.items():
        assert reply_problem(task, reply) is None, task
    assert reply_problem("cnn_interface", {"shape_error": "CNN.forward must return ...", "size": 1, "trainable": 1}) \
        is None
    assert reply_problem("cnn_eval", {**real["cnn_eval"], "buffers_only": 3}) == \
        "buffers_only: expected str or null, got 3"
    assert reply_problem("sr_eval", {"outputs": "o"}) == "pretrain_outputs: is missing"
    assert reply_problem("cnn_train", [trained]).startswith("expected a mapping, got [")
