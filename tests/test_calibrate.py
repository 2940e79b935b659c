"""`python -m grader calibrate`: clear errors where it cannot run (no seeds, no reference, a handout), and a loop
over the registry's trained items, each baseline measured as grader/items.py declares (issue 17, bug 6).

The measurement itself (training the reference) is what tests elsewhere grade for real; here `grade` is replaced
by a stand-in that returns fixed metrics, so the test is about the loop, in a fraction of a second."""
from __future__ import annotations

import dataclasses
import shutil
import sys
from types import SimpleNamespace

import pytest
import yaml

from conftest import DATA
from grader import calibrate as calibrate_module
from grader import config as config_module
from grader import items as items_module
from grader.__main__ import main
from grader.config import DEFAULT_CONFIG, ConfigError, load_config

REFERENCE_VALUE, BASELINE_VALUE = 0.9, 0.5


def fake_grade(submission, config, data, seed=0, **_):
    """A report of every item of `config`: the reference scores REFERENCE_VALUE + a little per seed, a baseline
    submission BASELINE_VALUE; items with a baseline metric record it next to their metric."""
    baseline = submission.name != "reference"
    tests = []
    for item in config.items:
        spec = items_module.SPECS[item.id]
        metrics = {spec.metric: (BASELINE_VALUE if baseline else REFERENCE_VALUE + seed / 1000)}
        if spec.baseline_metric:
            metrics[spec.baseline_metric] = BASELINE_VALUE
        tests.append(SimpleNamespace(id=item.id, status="passed", metrics=metrics, output="", cpu_s=2.0))
    return SimpleNamespace(device="cpu", tests=tests)


@pytest.fixture
def rubric(tmp_path):
    path = tmp_path / "grading.yaml"
    shutil.copy(DEFAULT_CONFIG, path)
    return path


def test_zero_seeds_is_a_clear_error(rubric):
    with pytest.raises(ConfigError, match="--seeds 0: calibration needs at least 1 seed"):
        calibrate_module.calibrate("quick", 0, DATA, config_path=str(rubric))


def test_without_the_reference_solution_is_a_clear_error(rubric, monkeypatch, tmp_path):
    monkeypatch.setattr(calibrate_module, "REPO_ROOT", tmp_path)
    with pytest.raises(ConfigError, match="calibrate trains the reference solution, and .* has none"):
        calibrate_module.calibrate("quick", 3, DATA, config_path=str(rubric))


def test_in_a_handout_calibrate_exits_2_with_one_line(monkeypatch, capsys):
    # a handout has no grader/calibrate.py (bundle.INSTRUCTOR_ONLY): the import fails as it would there
    monkeypatch.setitem(sys.modules, "grader.calibrate", None)
    assert main(["calibrate", "--profile", "quick"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: calibrate is the course staff's command: it trains the reference solution, which this copy of the "
        "grader does not include; grading.yaml's thresholds are already measured"]


def test_every_trained_item_of_the_registry_is_calibrated_with_its_declared_baseline(rubric, monkeypatch):
    # a fourth trained item, declared in the registry only: calibrate needs no edit to measure it
    extra = dataclasses.replace(items_module.SPECS["cnn.accuracy"], id="cnn.extra", baseline="another model")
    monkeypatch.setitem(items_module.SPECS, extra.id, extra)
    monkeypatch.setattr(config_module, "ITEM_IDS", (*items_module.ITEM_IDS, extra.id))
    monkeypatch.setattr(config_module, "TRAINED_IDS", (*items_module.TRAINED_IDS, extra.id))
    raw = yaml.safe_load(rubric.read_text())
    raw["items"].append({**next(i for i in raw["items"] if i["id"] == "cnn.accuracy"), "id": extra.id})
    rubric.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setattr(calibrate_module, "grade", fake_grade)
    values = calibrate_module.calibrate("quick", 3, DATA, config_path=str(rubric))
    assert set(values) == {"cnn.accuracy", "sr.psnr", "cnn.extra"}
    for item_id, v in values.items():
        assert (v["zero_at"], v["reference_runs"], v["seeds"]) == (BASELINE_VALUE, [0.9, 0.901, 0.902], 3), item_id
        assert v["baseline"] == items_module.SPECS[item_id].baseline
    assert load_config(rubric, "quick").item("cnn.extra").threshold.zero_at == BASELINE_VALUE
