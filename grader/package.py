"""python -m grader package {gradescope,prairielearn,github,handout}: ship the grader, or the assignment.

* ``gradescope --out autograder.zip``: a Gradescope autograder (https://gradescope-autograders.readthedocs.io/
  en/latest/specs/) for its default base image (Ubuntu 22.04, python3 3.10). ``setup.sh`` runs once at image
  build: apt packages, the sandbox user, then ``install.sh`` (pinned CPU wheels, data checked and decoded into
  a private cache, the bundle made root-only, a self-check that student code's uid cannot read the rubric
  or the test data). ``run_autograder`` copies only model.py / pixel_shuffle.py from the submission, grades
  under an outer ``timeout`` and always leaves a valid results.json (``python -m grader.finalize``).
* ``prairielearn --out DIR``: an external-grader image (Dockerfile, run.sh, the bundle) and a ready question
  folder (info.json with ``"gradingMethod": "External"`` and a timeout within PrairieLearn's 600 s cap,
  question.html with the file upload and the results element).
* ``github --out DIR``: a GitHub Classroom template repository: the handout plus the autograding workflow,
  which grades with a grader-only source and reports points even when grading fails.
* ``handout --out DIR``: the students' starter repository (grader/handout.py), without the solution.

Every script comes from grader/templates/, filled with named variables (grader/templates/__init__.py); the
files come from grader/bundle.py; the platforms' limits, the timeouts and the container settings printed
from grader/platforms.py.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from . import __version__
from .batch import DEFAULT_MARGIN_S
from .bundle import (TARGET_PYTHON, TORCH_INDEX, PackageError, data_files, grader_files, pins, write_tree,
                     write_zip)
from .config import DEFAULT_CONFIG, Config, load_config
from .handout import MARKER as HANDOUT_MARKER, handout_files
from .lms import GITHUB_CLASSROOM, GRADESCOPE, PLATFORMS, PRAIRIELEARN
from .platforms import FINALIZE_RESERVE_S, advice, outer_timeout
from .sandbox import SANDBOX_UID
from .templates import fill_from

INFO = "PACKAGE_INFO.json"


def _values(config: Config, profile: str, limit: int, include_data: bool, **extra) -> dict[str, object]:
    return {"VERSION": __version__, "CONFIG_SHA": config.sha256, "PROFILE": profile, "TIMEOUT": limit,
            "MAX_SCORE": f"{config.max_score:g}", "UID": SANDBOX_UID, "TARGET_PYTHON": TARGET_PYTHON,
            "TORCH_INDEX": TORCH_INDEX, "DATA_ACTION": "verify" if include_data else "download",
            "FINALIZE_OPTIONS": "", **extra}


def _bundle(config_path: Path, config: Config, values: dict, include_data: bool, notes: list[str],
            scripts: dict[str, str]) -> dict[str, object]:
    """The files of an LMS image: grader, rubric, data, pins, scripts. Adds the pin notes to `notes`."""
    requirements = pins()
    notes[:0] = list(requirements.notes)
    files: dict[str, object] = {**grader_files(), **data_files(include_data), **requirements.files()}
    files["grading.yaml"] = config_path.read_bytes()
    files.update({target: fill_from(source, values) for target, source in scripts.items()})
    files["grade.sh"] = fill_from("common/grade.sh", values)
    files["install.sh"] = fill_from("common/install.sh", values)
    files[INFO] = json.dumps({
        "grader_version": __version__, "rubric_sha256": config.sha256, "profile": config.profile,
        "max_score": config.max_score, "timeout_s": values["TIMEOUT"], "data_included": include_data,
        "python": TARGET_PYTHON, "pins": list(requirements.torch + requirements.other), "notes": notes},
        indent=2) + "\n"
    return files


# Every builder takes every platform's options (cmd_package passes them all) and uses its own.
def build_gradescope(out: Path, config_path: Path, profile: str = "quick", include_data: bool = True,
                     timeout: float | None = None, leaderboard: bool = False, **_) -> tuple[Path, list[str]]:
    config = load_config(config_path, profile)
    limit, notes = outer_timeout(config, GRADESCOPE, timeout)
    values = _values(config, profile, limit, include_data, FINALIZE_OPTIONS="--leaderboard" if leaderboard else "")
    files = _bundle(config_path, config, values, include_data, notes,
                    {name: f"{GRADESCOPE.templates}/{name}" for name in ("setup.sh", "run_autograder")})
    return write_zip(files, out), notes + advice(GRADESCOPE, limit, config)


def question_info(image: str, timeout: int) -> dict:
    # a fresh uuid per generated question: PrairieLearn refuses to sync two questions with one (a copy of this one)
    return {"uuid": str(uuid.uuid4()),
            "title": "CNN practical: MNIST CNN, ESPCN super-resolution, einops pixel shuffle",
            "topic": "Deep learning", "tags": ["autograder", "pytorch"], "type": "v3", "singleVariant": True,
            "gradingMethod": "External",
            "externalGradingOptions": {"image": image, "entrypoint": "/grader/run.sh",   # `enabled` is deprecated
                                       "timeout": timeout}}


def build_prairielearn(out: Path, config_path: Path, profile: str = "quick", include_data: bool = True,
                       timeout: float | None = None, image: str | None = None, **_) -> tuple[Path, list[str]]:
    config = load_config(config_path, profile)
    limit, notes = outer_timeout(config, PRAIRIELEARN, timeout)
    values = _values(config, profile, limit, include_data)
    grader = _bundle(config_path, config, values, include_data, notes,
                     {name: f"{PRAIRIELEARN.templates}/{name}" for name in ("run.sh", "Dockerfile")})
    image = image or f"YOUR_REGISTRY/cnn-practical-grader:{__version__}"
    files = {f"grader-image/{name}": content for name, content in grader.items()}
    files["question/info.json"] = json.dumps(question_info(image, limit + FINALIZE_RESERVE_S), indent=2) + "\n"
    files["question/question.html"] = fill_from(f"{PRAIRIELEARN.templates}/question.html", values)
    files["README.md"] = fill_from(f"{PRAIRIELEARN.templates}/README.md", {**values, "IMAGE": image})
    files[INFO] = grader[INFO]
    return write_tree(files, out, INFO), notes + advice(PRAIRIELEARN, limit, config)


def build_github(out: Path, config_path: Path, profile: str = "quick", timeout: float | None = None,
                 grader_repo: str = "OWNER/cnn-practical-template", grader_ref: str = "v1",
                 keep_evidence: bool = False, **_) -> tuple[Path, list[str]]:
    config = load_config(config_path, profile)
    limit = int(timeout or config.wall_budget_s(GITHUB_CLASSROOM.cpus) + DEFAULT_MARGIN_S)
    values = _values(config, profile, limit, False, GRADER_REPO=grader_repo, GRADER_REF=grader_ref,
                     TIMEOUT_MIN=limit // 60 + 20)
    files = handout_files(config_path, keep_evidence)
    files.update(pins().files())
    files[".github/workflows/classroom.yml"] = fill_from(f"{GITHUB_CLASSROOM.templates}/classroom.yml", values)
    files["CLASSROOM.md"] = fill_from(f"{GITHUB_CLASSROOM.templates}/CLASSROOM.md", values)
    return write_tree(files, out, HANDOUT_MARKER), [f"then follow {Path(out) / 'CLASSROOM.md'}"]


def cmd_package(args) -> int:
    config_path = Path(args.config or os.environ.get("GRADER_CONFIG") or DEFAULT_CONFIG).resolve()
    try:
        if args.target in PLATFORMS:
            platform = PLATFORMS[args.target]
            path, notes = platform.build(
                Path(args.out or platform.default_out), config_path=config_path, profile=args.profile,
                timeout=args.timeout, include_data=not args.no_data, leaderboard=args.leaderboard,
                image=args.image, grader_repo=args.grader_repo, grader_ref=args.grader_ref,
                keep_evidence=args.keep_calibration_evidence)
            size = f" ({path.stat().st_size / 2**20:.1f} MB)" if path.is_file() else "/"
            head = f"wrote {path}{size}: {platform.next_step}"
        else:
            path = write_tree(handout_files(config_path, args.keep_calibration_evidence), Path(args.out or "handout"),
                              HANDOUT_MARKER)
            head, notes = f"wrote the student handout {path}/ (no reference/, tests/, bench/)", []
    except PackageError as exc:
        raise RuntimeError(str(exc)) from None
    print("\n".join([head] + [f"  {note}" for note in notes]))
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser("package", help="build a Gradescope / PrairieLearn / GitHub Classroom package, "
                                              "or the students' handout")
    p.add_argument("target", choices=[*PLATFORMS, "handout"])
    p.add_argument("--out", help="autograder.zip (gradescope) or a folder (the others)")
    p.add_argument("--config", help="rubric to ship (default: grading.yaml in the repo)")
    p.add_argument("--profile", default="quick", choices=["quick", "full"],
                   help="profile the LMS grades with (default quick: LMS images have no GPU)")
    p.add_argument("--timeout", type=float, help="outer time limit in seconds (default: item timeouts + margin, "
                                                 "within the platform's maximum)")
    p.add_argument("--no-data", action="store_true",
                   help="do not bundle the datasets; download them when the image is built")
    p.add_argument("--leaderboard", action="store_true", help="gradescope: add a leaderboard (accuracy, PSNR)")
    p.add_argument("--image", help="prairielearn: the image name info.json points at")
    p.add_argument("--grader-repo", default="OWNER/cnn-practical-template",
                   help="github: the grader-only repository the workflow grades with (the template itself)")
    p.add_argument("--grader-ref", default="v1", help="github: tag or branch of --grader-repo (default v1)")
    p.add_argument("--keep-calibration-evidence", action="store_true",
                   help="handout/github: keep the reference's calibration runs in grading.yaml (default: thresholds only)")
    p.set_defaults(func=cmd_package)
    return p
