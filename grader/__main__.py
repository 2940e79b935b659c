"""Command line: python -m grader {grade,calibrate,data,batch,package} ...

Exit status: 0 whenever grading finished (whatever the score), 2 with one line on stderr for a harness
error (bad config, missing data, bad arguments), 130 when interrupted (the report is still written), 75
when the machine was too busy to run some items (the report says which; grade again).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import PROFILE_CHOICES, PROFILES, SANDBOXES, load_config
from .errors import EXIT_MACHINE_BUSY, ConfigError, DataError, Interrupted, OracleError
from .lms import FORMATS
from .items import SPECS
from .paths import DataPaths
from .progress import ProgressPrinter, score_table


def cmd_grade(args) -> int:
    from .data import Datasets
    from .lms import render
    from .notebook.submission import grade_submission
    from .orchestrator import needs_data, resolve_profile
    submission = Path(args.submission)
    if not submission.is_dir() and submission.suffix.lower() != ".ipynb":
        raise ConfigError(f"{submission}: not a folder or a notebook; pass the folder holding model.py and "
                          f"pixel_shuffle.py, or your .ipynb")
    paths = DataPaths.from_environment()
    config = load_config(args.config, resolve_profile(args.profile))
    if needs_data(config):
        from .data import verify
        verify(paths.data)
    report = grade_submission(submission, config, Datasets(paths), out=args.out, sandbox=args.sandbox,
                              progress=ProgressPrinter())
    # A rendering asked for without a file is the only thing on stdout, so it can be piped or parsed.
    rendering_on_stdout = args.format != "json" and not args.format_out
    human = sys.stderr if rendering_on_stdout else sys.stdout
    print(score_table(report), file=human)
    for note in report.submission.get("notebook", {}).get("notes", []):
        print(f"note: {note}", file=human)
    if args.format != "json":
        text = render(report, args.format)
        if args.format_out:
            from .result import write_atomic
            write_atomic(args.format_out, text)
        else:
            sys.stdout.write(text)
    if args.out:
        print(f"report: {args.out}", file=human)
    if args.html:
        from .pages import write_student_page
        write_student_page(report, args.html, submission.resolve().name, config.path)
        print(f"html: {args.html}", file=human)
    if report.starved:
        print(f"error: the machine was too busy to grade {', '.join(report.starved)} (not the student's fault): "
              f"grade again when it is less loaded", file=sys.stderr)
        return EXIT_MACHINE_BUSY
    return 0


def cmd_calibrate(args) -> int:
    try:
        from .calibrate import calibrate
    except ModuleNotFoundError as exc:   # a handout leaves calibrate.py out: the thresholds come with its rubric
        if exc.name != f"{__package__}.calibrate":
            raise
        raise ConfigError("calibrate is the course staff's command: it trains the reference solution, which this "
                          "copy of the grader does not include; grading.yaml's thresholds are already measured") from None
    from .data import Datasets
    calibrate(args.profile, args.seeds, Datasets(DataPaths.from_environment()), config_path=args.config)
    return 0


def cmd_data(args) -> int:
    from . import oracle
    from .data import download, verify
    paths = DataPaths.from_environment(data=args.dir)
    if args.action == "download":
        download(paths.data)
        print(f"data ready and verified in {paths.data}")
    else:
        verify(paths.data)
        print(f"data verified in {paths.data}")
    configs = [load_config(args.config, p, require_thresholds=False) for p in PROFILES]
    factors = [i.upscale_factor for c in configs for i in c.items if SPECS[i.id].upscaled]
    print(f"decoded arrays cached in {oracle.warm(paths, factors)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade one submission folder")
    g.add_argument("submission", help="folder holding model.py and pixel_shuffle.py, or a notebook (.ipynb)")
    g.add_argument("--profile", default="auto", choices=PROFILE_CHOICES,
                   help="auto = full when CUDA is available, else quick")
    g.add_argument("--out", help="where to write the JSON report")
    g.add_argument("--config", help="rubric file (default: grading.yaml in the repo)")
    g.add_argument("--sandbox", choices=SANDBOXES, help="default: grading.yaml's")
    g.add_argument("--format", default="json", choices=FORMATS,
                   help="also render the result in this format (to --format-out, else alone on stdout)")
    g.add_argument("--format-out", help="file for the --format rendering")
    g.add_argument("--html", help="also write the report as a self-contained web page to this file")
    g.set_defaults(func=cmd_grade)

    c = sub.add_parser("calibrate", help="train the reference N times and write thresholds into grading.yaml")
    c.add_argument("--profile", default="quick", choices=PROFILES)
    c.add_argument("--seeds", type=int, default=5)
    c.add_argument("--config", help="rubric file to update (default: grading.yaml in the repo)")
    c.set_defaults(func=cmd_calibrate)

    d = sub.add_parser("data", help="download or verify MNIST and BSDS300")
    d.add_argument("action", choices=["download", "verify"])
    d.add_argument("--dir", help="data folder (default: $GRADER_DATA_DIR or datasets/)")
    d.add_argument("--config", help="rubric file whose SR scale factors to prepare (default: grading.yaml)")
    d.set_defaults(func=cmd_data)

    try:
        from .batch import add_parser as add_batch
        add_batch(sub)
    except ImportError:
        pass
    try:
        from .package import add_parser as add_package
        add_package(sub)
    except ImportError:
        pass

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataError, OracleError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Interrupted as exc:
        print(f"interrupted ({exc}); the report holds what finished", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
