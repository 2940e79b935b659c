"""grading.yaml -> Config: the committed rubric for both profiles, and one clear error per malformed value."""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from grader.config import DEFAULT_CONFIG, ITEM_IDS, REPO_ROOT, TRAIN_CHOICES, ConfigError, Threshold, load_config
from grader.rubric_keys import DOC, OPTIONAL, REQUIRED, SECTIONS, reference_markdown

COMMITTED = yaml.safe_load(DEFAULT_CONFIG.read_text())


def rubric(tmp_path, mutate=None, name="rubric.yaml"):
    raw = copy.deepcopy(COMMITTED)
    if mutate:
        mutate(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def item(raw, item_id):
    return next(i for i in raw["items"] if i["id"] == item_id)


def with_full_calibration(raw):
    raw["calibration"]["full"] = {"cnn.accuracy": {"zero_at": 0.95, "full_at": 0.98},
                                  "sr.psnr": {"zero_at": 27.0, "full_at": 28.0}}


# ------------------------------------------------------------------ the committed rubric
def test_committed_rubric_quick():
    cfg = load_config(DEFAULT_CONFIG, "quick")
    assert cfg.profile == "quick" and cfg.device == "cpu" and cfg.sandbox == "auto"
    assert [i.id for i in cfg.items] == list(ITEM_IDS)
    assert cfg.max_score == 100
    assert (cfg.memory_limit_mb, cfg.output_limit_kb, cfg.suspicious_gap, cfg.suspicious_params) == \
        (6144, 64, 0.05, 2_000_000)
    cnn, sr = cfg.item("cnn.accuracy"), cfg.item("sr.psnr")
    assert (cnn.points, cnn.timeout_s, cnn.max_params) == (30, 150, 1_000_000)
    assert cnn.train == {"optimizer": "adamw", "lr": 0.003, "schedule": "onecycle", "batch_size": 64, "steps": 200}
    calibrated = yaml.safe_load(DEFAULT_CONFIG.read_text())["calibration"]["quick"]
    for trained in (cnn, sr):   # thresholds come from the calibration section, measured on the reference
        cal = calibrated[trained.id]
        assert trained.threshold == Threshold(cal["zero_at"], cal["full_at"])
        assert cal["zero_at"] < cal["full_at"] <= min(cal["reference_runs"])
        assert cal["seeds"] >= 3 and len(cal["reference_runs"]) == cal["seeds"]
        # the CPU limit measured with the thresholds replaces the rubric's timeout_s, with room to spare
        assert trained.cpu_limit_s == cal["cpu_limit_s"] >= 5 * cal["cpu_s_max"]
    assert (sr.timeout_s, sr.upscale_factor) == (180, 2)
    assert sr.train == {"optimizer": "adam", "lr": 0.003, "schedule": "onecycle", "batch_size": 8, "patch": 32,
                        "steps": 300}
    for i in cfg.items:
        assert (i.threshold is not None) == (i.id in ("cnn.accuracy", "sr.psnr"))
        assert i.timeout_s > 0 and i.points > 0 and i.name
    assert len(cfg.sha256) == 64


def without_full_calibration(raw):
    raw["calibration"].pop("full", None)


def test_full_profile_needs_a_calibration(tmp_path):
    # a rubric calibrated for `quick` only: `full` says exactly what to run
    path = rubric(tmp_path, without_full_calibration, name="quick_only.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path, "full")
    message = str(info.value)
    assert str(path) in message
    assert "calibration.full.cnn.accuracy" in message
    assert "python -m grader calibrate --profile full" in message
    # with a calibration the full profile's own values are picked
    cfg = load_config(rubric(tmp_path, with_full_calibration), "full")
    assert cfg.device == "cuda" and cfg.profile == "full"
    cnn, sr = cfg.item("cnn.accuracy"), cfg.item("sr.psnr")
    assert (cnn.timeout_s, cnn.train["steps"]) == (900, 938)
    assert (sr.timeout_s, sr.train["steps"], sr.train["lr"], sr.train["batch_size"], sr.train["patch"],
            sr.train["schedule"]) == (1800, 1500, 0.001, 4, 0, "cosine")
    assert cnn.threshold == Threshold(0.95, 0.98)
    assert cfg.item("pixel_shuffle.shapes").timeout_s == 60


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = rubric(tmp_path, lambda raw: item(raw, "pixel_shuffle.shapes").update(points=7))
    monkeypatch.setenv("GRADER_CONFIG", str(path))
    cfg = load_config(None, "quick")
    assert cfg.path == path and cfg.item("pixel_shuffle.shapes").points == 7 and cfg.max_score == 102


# ------------------------------------------------------------------ malformed rubrics
def test_bad_yaml_syntax_names_the_line(tmp_path):
    lines = DEFAULT_CONFIG.read_text().split("\n")
    n = next(k for k, line in enumerate(lines) if line.strip() == "points: 10")
    lines[n] = "    points: 10: 11"
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError) as info:
        load_config(path, "quick")
    message = str(info.value)
    assert message.startswith(f"{path}: not valid YAML at line {n + 1}, column")
    assert "mapping values are not allowed" in message


def drop_calibration(raw):
    del raw["calibration"]


MALFORMED = {
    "unknown item id": (lambda raw: raw["items"][1].update(id="pixel_shuffle.valuez"),
                        "items[1] (pixel_shuffle.valuez).id: unknown item id (known: pixel_shuffle.shapes"),
    "duplicate id": (lambda raw: raw["items"][2].update(id="pixel_shuffle.shapes"),
                     "items[2] (pixel_shuffle.shapes).id: appears twice"),
    "points as a string": (lambda raw: raw["items"][0].update(points="5"),
                           "items[0] (pixel_shuffle.shapes).points: expected int or float, got '5'"),
    "points as a bool": (lambda raw: raw["items"][0].update(points=True),
                         "items[0] (pixel_shuffle.shapes).points: expected int or float, got True"),
    "negative timeout": (lambda raw: raw["items"][0].update(timeout_s=-1),
                         "items[0] (pixel_shuffle.shapes).timeout_s: must not be negative, got -1"),
    "negative timeout for a profile": (lambda raw: item(raw, "cnn.accuracy").update(timeout_s={"quick": -5, "full": 9}),
                                       "items[6] (cnn.accuracy).timeout_s.quick: must not be negative, got -5"),
    "timeout without the profile": (lambda raw: item(raw, "sr.psnr").update(timeout_s={"full": 900}),
                                    "items[8] (sr.psnr).timeout_s: has no value for profile 'quick' (has: full)"),
    "missing calibration": (drop_calibration,
                            "calibration.quick.cnn.accuracy: is missing: run `python -m grader calibrate "
                            "--profile quick`"),
    "missing calibration of one item": (lambda raw: raw["calibration"]["quick"].pop("sr.psnr"),
                                        "calibration.quick.sr.psnr: is missing"),
    "full_at below zero_at": (lambda raw: raw["calibration"]["quick"].update({"sr.psnr": {"zero_at": 27.5,
                                                                                          "full_at": 26.89}}),
                              "calibration.quick.sr.psnr: full_at (26.89) must be above zero_at (27.5)"),
    "full_at equal to zero_at": (lambda raw: raw["calibration"]["quick"].update({"cnn.accuracy": {"zero_at": 0.9,
                                                                                                  "full_at": 0.9}}),
                                 "calibration.quick.cnn.accuracy: full_at (0.9) must be above zero_at (0.9)"),
    "threshold as a string": (lambda raw: raw["calibration"]["quick"]["cnn.accuracy"].update(zero_at="0.9"),
                              "calibration.quick.cnn.accuracy.zero_at: expected int or float, got '0.9'"),
    "missing name": (lambda raw: raw["items"][0].pop("name"), "items[0] (pixel_shuffle.shapes).name: is missing"),
    "missing training budget": (lambda raw: item(raw, "cnn.accuracy")["train"].pop("steps"),
                                "items[6] (cnn.accuracy).train.steps: is missing"),
    "unknown optimizer": (lambda raw: item(raw, "cnn.accuracy")["train"].update(optimizer="rmsprop"),
                          "items[6] (cnn.accuracy).train.optimizer: expected one of adam, adamw, sgd, got 'rmsprop'"),
    "unknown schedule for a profile": (lambda raw: item(raw, "sr.psnr")["train"].update(schedule={"quick": "step",
                                                                                                  "full": "cosine"}),
                                       "items[8] (sr.psnr).train.schedule.quick: expected one of none, onecycle, cosine, "
                                       "got 'step'"),
    "unknown sandbox": (lambda raw: raw["settings"].update(sandbox="docker"),
                        "settings.sandbox: expected one of auto, none, process, bwrap, got 'docker'"),
    "unknown visibility": (lambda raw: raw["items"][3].update(visibility="secret"),
                           "items[3] (pixel_shuffle.module).visibility: expected one of visible, hidden"),
    "memory limit as a string": (lambda raw: raw["settings"].update(memory_limit_mb="6 GB"),
                                 "settings.memory_limit_mb: expected int, got '6 GB'"),
    "no items": (lambda raw: raw.update(items=[]), "items: is empty"),
    "items not a list": (lambda raw: raw.update(items={"a": 1}), "items: expected list"),
    "item not a mapping": (lambda raw: raw["items"].append("sr.extra"), "items[9]: expected a mapping"),
    "no profiles": (lambda raw: raw.pop("profiles"), "profiles: is missing"),
    # a misspelt key is an error naming its path and the closest declared key, never silently ignored
    "misspelt visibility": (lambda raw: item(raw, "sr.psnr").update(visiblity="hidden"),
                            "items[8] (sr.psnr).visiblity: unknown key; did you mean 'visibility'?"),
    "misspelt memory limit": (lambda raw: raw["settings"].update(memory_limit=512),
                              "settings.memory_limit: unknown key; did you mean 'memory_limit_mb'?"),
    "misspelt training key": (lambda raw: item(raw, "cnn.accuracy")["train"].update(step=100),
                              "items[6] (cnn.accuracy).train.step: unknown key; did you mean 'steps'?"),
    "unknown top-level section": (lambda raw: raw.update(setings={}),
                                  "setings: unknown key; did you mean 'settings'?"),
    "misspelt profile key": (lambda raw: raw["profiles"]["full"].update(devise="cuda"),
                             "profiles.full.devise: unknown key; did you mean 'device'?"),
    "misspelt similarity key": (lambda raw: raw["similarity"].update(list_a=0.5),
                                "similarity.list_a: unknown key; did you mean 'list_at'?"),
    "misspelt calibration key": (lambda raw: raw["calibration"]["quick"]["sr.psnr"].update(ful_at=28),
                                 "calibration.quick.sr.psnr.ful_at: unknown key; did you mean 'full_at'?"),
    "calibration of an unknown item": (lambda raw: raw["calibration"]["quick"].update({"sr.psnrr": {}}),
                                       "calibration.quick.sr.psnrr: not a trained item; did you mean 'sr.psnr'?"),
    "calibration of an unknown profile": (lambda raw: raw["calibration"].update(quik={}),
                                          "calibration.quik: not a profile of this rubric (defined: quick, full); "
                                          "did you mean 'quick'?"),
    "a parameter budget of 0": (lambda raw: item(raw, "cnn.interface").update(max_params=0),
                                "items[5] (cnn.interface).max_params: must be at least 1, got 0 (leave it out for "
                                "no budget)"),
    "learning rate as a string": (lambda raw: item(raw, "cnn.accuracy")["train"].update(lr="fast"),
                                  "items[6] (cnn.accuracy).train.lr: expected int or float, got 'fast'"),
    "profile without device": (lambda raw: raw["profiles"]["quick"].pop("device"), "profiles.quick.device: is missing"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_rubric_names_the_key_and_the_problem(case, tmp_path):
    mutate, expected = MALFORMED[case]
    path = rubric(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_config(path, "quick")
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_calibration_keys_of_the_cpu_measurement_are_accepted(tmp_path):
    # calibrate may record the reference's CPU seconds and the CPU limit it applied (issue 15)
    cpu = {"cpu_s": 41.5, "cpu_s_max": 44.0, "cpu_limit_s": 120.0}
    cfg = load_config(rubric(tmp_path, lambda raw: raw["calibration"]["quick"]["sr.psnr"].update(cpu)), "quick")
    assert {k: cfg.calibration["sr.psnr"][k] for k in cpu} == cpu
    with pytest.raises(ConfigError, match=r"calibration.quick.sr.psnr.cpu_s: expected int or float, got 'a lot'"):
        load_config(rubric(tmp_path, lambda raw: raw["calibration"]["quick"]["sr.psnr"].update(cpu_s="a lot")))


def test_every_key_the_committed_rubric_uses_is_declared_with_a_default_of_its_type():
    for section in SECTIONS.values():
        for key in section.keys:
            assert key.description.endswith((".", ")")), key
            if key.default not in (REQUIRED, OPTIONAL):
                assert isinstance(key.default, key.kinds), key
                assert not key.choices or key.default in key.choices, key
    assert dict(TRAIN_CHOICES) == {"optimizer": SECTIONS["items[].train"].key("optimizer").choices,
                                   "schedule": SECTIONS["items[].train"].key("schedule").choices}


def test_the_reference_table_in_the_docs_is_up_to_date():
    assert DOC.read_text() == reference_markdown(), "run `python -m grader.rubric_keys --write` and commit docs/rubric.md"
    text = DOC.read_text()
    for section in SECTIONS.values():   # every declared key has its row
        for key in section.keys:
            assert f"| `{key.name}` | {key.type_name} |" in text
    assert "CPU seconds the item's worker may use" in text


def test_unknown_profile(tmp_path):
    path = rubric(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(path, "turbo")
    assert str(info.value) == f"{path}: profiles: unknown profile 'turbo' (defined: quick, full)"


def test_unreadable_rubric(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the rubric file"):
        load_config(tmp_path / "nope.yaml", "quick")


# Values the docstring promises to reject ("every malformed value gets one error naming its key path"), but
# that today either crash load_config with a non-ConfigError or are accepted and break grading later.
STILL_MALFORMED = {
    "train as a scalar": (lambda raw: item(raw, "cnn.accuracy").update(train=400), "items[6] (cnn.accuracy).train"),
    "train as a list": (lambda raw: item(raw, "cnn.accuracy").update(train=["steps", 400]),
                        "items[6] (cnn.accuracy).train"),
    "calibration profile as a list": (lambda raw: raw["calibration"].update(quick=[0.9, 0.95]),
                                      "calibration.quick"),
    "zero timeout": (lambda raw: raw["items"][0].update(timeout_s=0), "items[0] (pixel_shuffle.shapes).timeout_s"),
    "upscale factor 0": (lambda raw: item(raw, "sr.psnr").update(upscale_factor=0), "items[8] (sr.psnr).upscale_factor"),
    "unknown device": (lambda raw: raw["profiles"]["quick"].update(device="gpu"), "profiles.quick.device"),
}


@pytest.mark.parametrize("case", sorted(STILL_MALFORMED))
def test_other_malformed_values_are_config_errors(case, tmp_path):
    mutate, key = STILL_MALFORMED[case]
    path = rubric(tmp_path, mutate)
    try:
        load_config(path, "quick")
    except ConfigError as exc:
        assert key in str(exc)
    except Exception as exc:  # noqa: BLE001 - the point is which exception escapes
        pytest.fail(f"load_config crashed with {type(exc).__name__}: {exc} instead of a ConfigError naming {key}")
    else:
        pytest.fail(f"load_config accepted a malformed rubric ({case}); expected a ConfigError naming {key}")


# ------------------------------------------------------------------ the command line
def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_bad_rubric_exits_2_with_one_error_line(tmp_path):
    path = rubric(tmp_path, lambda raw: raw["items"][2].update(id="pixel_shuffle.shapes"), name="BAD.yaml")
    done = run_cli("grade", "student", "--config", str(path), "--profile", "quick")
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0] == f"error: {path}: items[2] (pixel_shuffle.shapes).id: appears twice"
    assert "Traceback" not in done.stdout + done.stderr


def test_cli_bad_yaml_syntax_exits_2(tmp_path):
    path = tmp_path / "BAD.yaml"
    path.write_text("settings:\n  sandbox: auto\nitems: [\n  - id: x\n")
    done = run_cli("grade", "student", "--config", str(path))
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: not valid YAML at line "), done.stderr


def test_cli_malformed_train_section_exits_2_not_a_traceback(tmp_path):
    path = rubric(tmp_path, lambda raw: item(raw, "cnn.accuracy").update(train=400), name="BAD.yaml")
    done = run_cli("grade", "student", "--config", str(path), "--profile", "quick")
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: items[6] (cnn.accuracy).train"), done.stderr


def test_items_scored_from_one_training_run_must_share_its_budget(tmp_path, monkeypatch):
    """A second item scored from cnn_train (README, "Adding a rubric item") trains with that one run: a budget of
    its own would be silently ignored, so a different one is refused and the same one accepted."""
    import dataclasses
    from grader import config as config_module, items as items_module
    extra = dataclasses.replace(items_module.SPECS["cnn.accuracy"], id="cnn.extra")
    monkeypatch.setitem(items_module.SPECS, extra.id, extra)
    monkeypatch.setattr(config_module, "ITEM_IDS", (*ITEM_IDS, extra.id))
    monkeypatch.setattr(config_module, "TRAINED_IDS", (*items_module.TRAINED_IDS, extra.id))
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    accuracy = next(i for i in raw["items"] if i["id"] == "cnn.accuracy")
    raw["calibration"]["quick"][extra.id] = raw["calibration"]["quick"]["cnn.accuracy"]
    path = tmp_path / "rubric.yaml"
    raw["items"].append({**copy.deepcopy(accuracy), "id": extra.id})
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert load_config(path, "quick").item(extra.id).train == load_config(path, "quick").item("cnn.accuracy").train
    raw["items"][-1]["train"]["steps"] = {"quick": 50, "full": 938}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError, match=r"cnn\.extra\)\.train: differs from cnn\.accuracy's: both are scored "
                                          r"from the worker call 'cnn_train'"):
        load_config(path, "quick")
