"""Command line: ``python -m zifhelpers {run,fetch} ...``."""

from __future__ import annotations

import argparse
import sys


def _parse_param(text: str) -> tuple[str, object]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"parameter {text!r} is not of the form key=value")
    key, value = text.split("=", 1)
    return key, yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zifhelpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks with papermill")
    run.add_argument("notebooks", nargs="*", help="e.g. 00 03_validation (default: all)")
    run.add_argument("--profile", default="smoke", choices=["smoke", "quick", "paper"])
    run.add_argument("--output", default=None, help="output folder (default runs/PROFILE)")
    run.add_argument("--figures-dir", default=None, help="where figures go")
    run.add_argument(
        "-p", "--parameter", action="append", type=_parse_param, default=[],
        metavar="KEY=VALUE", help="extra papermill parameter (YAML value)",
    )
    run.add_argument("--no-progress", action="store_true")
    sub.add_parser("fetch", help="fetch and verify every data file")
    resume = sub.add_parser("md-resume", help="resume (or start) an MD run folder")
    resume.add_argument("workdir")
    resume.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "fetch":
        from .data import fetch_all

        paths = fetch_all()
        print(f"{len(paths)} files verified")
        return 0

    if args.command == "md-resume":
        from .md import MDGuardError, MDRun

        try:
            path = MDRun.resume(args.workdir, progress=not args.no_progress)
        except MDGuardError as err:
            print(err, file=sys.stderr)
            return 3
        print(f"finished: {path}")
        return 0

    from .runner import run_notebooks

    outcomes = run_notebooks(
        args.notebooks or None,
        profile=args.profile,
        output_dir=args.output,
        figures_dir=args.figures_dir,
        parameters=dict(args.parameter),
        progress=not args.no_progress,
    )
    failed = [o.notebook for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} notebooks ran, {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
