"""Command line: python -m grader {grade,calibrate,data,batch,package} ...

Exit status: 0 whenever grading finished (whatever the score), 2 with one line on stderr for a harness
error (bad config, missing data, bad arguments), 130 when interrupted (the report is still written).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError, load_config
from .data import DataError


def progress_printer(stream=sys.stderr):
    """A one-line progress bar on a terminal; a line per 25% elsewhere (CI logs, LMS containers)."""
    state = {"task": None, "quarter": -1}

    def show(task: str, done: int, total: int):
        fraction = done / max(total, 1)
        if stream.isatty():
            bar = "#" * int(30 * fraction)
            stream.write(f"\r  {task:<14} [{bar:<30}] {done}/{total}")
            if done >= total:
                stream.write("\n")
        else:
            quarter = int(4 * fraction)
            if (task, quarter) != (state["task"], state["quarter"]):
                state.update(task=task, quarter=quarter)
                stream.write(f"  {task}: {done}/{total}\n")
        stream.flush()
    return show


def score_table(report) -> str:
    lines = [f"{'item':<24} {'score':>11}  status", "-" * 46]
    for t in report.tests:
        lines.append(f"{t.id:<24} {t.score:>5g}/{t.max_score:<5g}  {t.status}")
    lines += ["-" * 46, f"Score: {report.score:g}/{report.max_score:g}   (profile {report.profile}, "
              f"device {report.device}, sandbox {report.sandbox}, {report.duration_s:.0f} s)"]
    if report.estimate_note:
        lines.append(report.estimate_note)
    return "\n".join(lines)


def cmd_grade(args) -> int:
    from .formats import render
    from .orchestrator import grade, resolve_profile
    submission = Path(args.submission)
    if not submission.is_dir():
        raise ConfigError(f"{submission}: not a folder; pass the folder holding model.py and pixel_shuffle.py")
    config = load_config(args.config, resolve_profile(args.profile))
    if "cnn.accuracy" in {i.id for i in config.items} or "sr.psnr" in {i.id for i in config.items}:
        from .data import verify
        verify()
    report = grade(submission, config, out=args.out, sandbox=args.sandbox, progress=progress_printer())
    print(score_table(report))
    if args.format != "json":
        text = render(report, args.format)
        if args.format_out:
            from .result import write_atomic
            write_atomic(args.format_out, text)
        else:
            print(text)
    if args.out:
        print(f"report: {args.out}")
    return 0


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate
    calibrate(args.profile, args.seeds, config_path=args.config)
    return 0


def cmd_data(args) -> int:
    from . import oracle
    from .data import data_dir, download, verify
    root = Path(args.dir).resolve() if args.dir else data_dir()
    if args.action == "download":
        download(root)
        print(f"data ready and verified in {root}")
    else:
        verify(root=root)
        print(f"data verified in {root}")
    configs = [load_config(args.config, p, require_thresholds=False) for p in ("quick", "full")]
    factors = [i.upscale_factor for c in configs for i in c.items if i.id == "sr.psnr"]
    print(f"decoded arrays cached in {oracle.warm(root, factors)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade one submission folder")
    g.add_argument("submission", help="folder holding model.py and pixel_shuffle.py")
    g.add_argument("--profile", default="auto", choices=["quick", "full", "auto"],
                   help="auto = full when CUDA is available, else quick")
    g.add_argument("--out", help="where to write the JSON report")
    g.add_argument("--config", help="rubric file (default: grading.yaml in the repo)")
    g.add_argument("--sandbox", choices=["auto", "none", "process", "bwrap"], help="default: grading.yaml's")
    g.add_argument("--format", default="json",
                   choices=["json", "gradescope", "prairielearn", "junit", "github", "github-result"],
                   help="also render the result in this format (to stdout or --format-out)")
    g.add_argument("--format-out", help="file for the --format rendering")
    g.set_defaults(func=cmd_grade)

    c = sub.add_parser("calibrate", help="train the reference N times and write thresholds into grading.yaml")
    c.add_argument("--profile", default="quick", choices=["quick", "full"])
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
    except (ConfigError, DataError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        if type(exc).__name__ == "Interrupted":
            print(f"interrupted ({exc}); the report holds what finished", file=sys.stderr)
            return 130
        raise


if __name__ == "__main__":
    sys.exit(main())
