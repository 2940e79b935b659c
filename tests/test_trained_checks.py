"""Trained items (issue 11, class 4), without a worker: the trusted side's count and validation of a trained
state, the verdicts on held-out / untrained / buffers-only accuracies, and the worker's budget and state
loading, which count every parameter and buffer and refuse a model that changed its state's layout."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from grader.checks.cnn import judge
from grader.checks.run import Run
from grader.checks.trained import trained_state
from grader.config import load_config
from grader.result import ItemResult
from grader.worker.state import load_trained, received_state, with_buffers_only
from grader.worker.student import StudentError, build, size_of


class FakeSession:
    def __init__(self, arrays: dict):
        self.arrays = arrays

    def read_output(self, rel):
        return self.arrays[rel]


def make_run(arrays: dict | None = None) -> Run:
    config = load_config(None, "quick")
    results = {i: ItemResult(i, i, config.item(i).points) for i in ("cnn.interface", "cnn.accuracy")}
    return Run(config, None, results, FakeSession(arrays or {}), lambda *a: None, np.random.default_rng(0))


def budget(max_params: int | None):
    """cnn.accuracy of the committed rubric with another parameter budget (None: no budget)."""
    return dataclasses.replace(load_config(None, "quick").item("cnn.accuracy"), max_params=max_params)


def state_reply(arrays: dict) -> dict:
    return {"state": [{"name": name, "file": name} for name in arrays]}


def test_the_trusted_count_includes_buffers_and_refuses_over_budget():
    arrays = {"linear.weight": np.zeros((10, 784), np.float32), "linear.bias": np.zeros(10, np.float32),
              "pretrained": np.zeros(992_200, np.float16)}
    run = make_run(arrays)
    reply = state_reply(arrays)
    assert trained_state(run, "cnn_train", reply, "CNN()", budget(1_000_000)) is None
    item = run.results["cnn.accuracy"]
    assert item.score == 0 and "1,000,050 parameters and buffers" in item.output and "budget is 1,000,000" in item.output
    small = {k: v for k, v in arrays.items() if k != "pretrained"}
    run = make_run(small)
    reply = state_reply(small)
    assert [name for name, _ in trained_state(run, "cnn_train", reply, "CNN()", budget(1_000_000))] == list(small)
    assert reply["params_and_buffers"] == 7850


@pytest.mark.parametrize("entries", [
    [],                                                                  # nothing
    [{"name": "w", "file": "w"}, {"name": "w", "file": "w"}],            # a name twice
    [{"name": "../../etc/passwd", "file": "w"}],                         # not a state name
    [{"name": f"w{k}", "file": "w"} for k in range(1001)],               # too many
    "not a list",
])
def test_a_malformed_state_is_an_error_naming_the_model(entries):
    run = make_run({"w": np.zeros(3, np.float32)})
    assert trained_state(run, "cnn_train", {"state": entries}, "CNN()", budget(None)) is None
    assert run.results["cnn.accuracy"].status == "error" and "CNN()" in run.results["cnn.accuracy"].output


def test_max_params_has_one_meaning_in_the_interface_and_the_trained_checks():
    # the interface check and the trained check read the budget through one predicate: Item.over_budget
    from grader.checks.cnn import score_interface
    arrays = {"w": np.zeros(50, np.float32)}
    for max_params, refused in ((None, False), (50, False), (49, True), (1, True)):
        run = make_run(dict(arrays))
        run.config = dataclasses.replace(run.config, items=tuple(
            dataclasses.replace(i, max_params=max_params) if i.id == "cnn.interface" else i for i in run.config.items))
        logits, embedding = np.zeros((3, 10), np.float32), np.zeros((3, 4), np.float32)
        run.session.arrays.update(logits=logits, embedding=embedding)
        score_interface(run, {"logits": "logits", "embedding": "embedding", "trainable": 50, "size": 50})
        assert (run.results["cnn.interface"].score == 0) == refused, (max_params, run.results["cnn.interface"].output)
        assert (trained_state(run, "cnn_train", state_reply(arrays), "CNN()", budget(max_params)) is None) == refused


def test_a_state_of_strings_is_refused():
    run = make_run({"w": np.array(["a", "b"])})
    assert trained_state(run, "cnn_train", state_reply({"w": 0}), "CNN()", budget(None)) is None
    assert "not numbers" in run.results["cnn.accuracy"].output


def measured(**overrides) -> dict:
    return {"accuracy": 0.98, "accuracy_heldout": 0.979, "gap": 0.001, "untrained_accuracy": 0.1,
            "params_and_buffers": 28938, **overrides}


def verdict(**overrides):
    run = make_run()
    item = run.results["cnn.accuracy"]
    judge(run, item, run.config.item("cnn.accuracy"), {"_printed": "", "losses": []}, measured(**overrides), 10000)
    return item, run.flags


def test_an_honest_model_is_scored_on_the_test_set_unflagged():
    item, flags = verdict()
    assert item.score == 30 and item.metrics["evidence"] == "test set" and flags == []


def test_a_model_better_on_the_public_test_set_is_scored_on_the_held_out_images():
    item, flags = verdict(accuracy=1.0, accuracy_heldout=0.93, gap=0.07)
    t = make_run().config.item("cnn.accuracy").threshold
    assert item.score == round(30 * t.credit(0.93), 2) and item.metrics["evidence"] == "held-out set"
    assert "scored on the held-out images" in item.output and "possibly memorized" in flags[0]


@pytest.mark.parametrize("key,text", [("untrained_accuracy", "freshly built, untrained"),
                                      ("buffers_only_accuracy", "untrained parameters")])
def test_knowledge_that_did_not_come_from_training_scores_zero(key, text):
    item, flags = verdict(**{key: 0.97})
    assert item.score == 0 and text in item.output and "pretrained" in item.output and flags


def test_chance_level_untrained_and_buffers_only_models_pass():
    item, _ = verdict(untrained_accuracy=0.3, buffers_only_accuracy=0.12)
    assert item.score == 30


# ------------------------------------------------------------------ the worker's side
class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.big = nn.Linear(1000, 1000).requires_grad_(False)
        self.register_buffer("table", torch.zeros(5000), persistent=False)
        self.head = nn.Linear(10, 2)


def test_the_budget_counts_frozen_parameters_and_every_buffer():
    assert size_of(Frozen()) == 1_001_000 + 5000 + 22
    with pytest.raises(StudentError, match="1,006,022 parameters and buffers"):
        build(Frozen, device="cpu", max_params=1_000_000, what="CNN()")


class WithBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)


def test_a_fresh_model_loads_exactly_the_trained_state():
    trained = WithBN()
    trained.bn.running_mean += 3
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    fresh = WithBN()
    load_trained(fresh, state, "CNN()")
    assert torch.equal(fresh.conv.weight, trained.conv.weight) and torch.equal(fresh.bn.running_mean, state["bn.running_mean"])
    with pytest.raises(StudentError, match="must not add or drop"):
        load_trained(WithBN(), {**state, "grown": torch.zeros(3)}, "CNN()")
    with pytest.raises(StudentError, match="shapes must not change"):
        load_trained(WithBN(), {**state, "conv.bias": torch.zeros(5)}, "CNN()")


def test_buffers_only_keeps_the_other_parameters():
    trained, other = WithBN(), WithBN()
    trained.bn.running_var *= 7
    assert with_buffers_only(other, trained.state_dict())
    assert torch.equal(other.bn.running_var, trained.bn.running_var)
    assert not torch.equal(other.conv.weight, trained.conv.weight)
    assert not with_buffers_only(nn.Linear(2, 2), nn.Linear(2, 2).state_dict())


def test_received_state_round_trips_through_npy(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.arange(6, dtype=np.float32).reshape(2, 3))
    state = received_state([{"name": "w", "file": str(path)}], np.load)
    assert state["w"].shape == (2, 3) and state["w"].dtype == torch.float32
