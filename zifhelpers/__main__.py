"""Command line: ``python -m zifhelpers {run,fetch,md-resume,runs,pack,convert-published,report,glass-barrier} ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .compendium.profiles import PROFILES


def _parse_param(text: str) -> tuple[str, object]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"parameter {text!r} is not of the form key=value")
    key, value = text.split("=", 1)
    if not key.isidentifier():
        raise argparse.ArgumentTypeError(f"parameter {text!r}: {key!r} is not a parameter name")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise argparse.ArgumentTypeError(
            f"parameter {key}: cannot read the value {value!r} ({first}); quote a string, "
            "e.g. -p 'name=\"text\"'") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zifhelpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks with papermill")
    run.add_argument("notebooks", nargs="*", help="e.g. 00 03_validation (default: all)")
    run.add_argument("--profile", default="smoke", choices=list(PROFILES))
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
    conv = sub.add_parser(
        "convert-published",
        help="the published nequip 0.5.6 model as a verified nequip 0.19 package (.nequip.zip)")
    conv.add_argument("--output", default=None,
                      help="copy the package to this .nequip.zip path")
    conv.add_argument("--compiled", default=None, metavar="PATH.nequip.pt2",
                      help="also compile it (AOT Inductor) and copy the result here")
    conv.add_argument("--device", default=None, help="cpu or cuda (default: cuda if visible)")
    conv.add_argument("--target", default="ase", help="nequip-compile target: ase, batch, ...")
    pack = sub.add_parser(
        "pack", help="snapshot the MD runs under a folder into run.tar.gz files git can keep "
                     "(unfinished runs, and finished ones without a summary.json)")
    pack.add_argument("root", help="e.g. results/cpu/md")
    runs = sub.add_parser("runs", help="list the MD runs under a folder and how far each got")
    runs.add_argument("root", help="e.g. results/cpu/md")
    gb = sub.add_parser(
        "glass-barrier",
        help="the made glasses' Zn-N barrier: their 300 K runs continued, pair counts pooled")
    gb.add_argument("campaign", help="notebook 04's campaign folder, e.g. results/cpu")
    gb.add_argument("--profile", default="smoke", choices=list(PROFILES))
    gb.add_argument("--seeds", type=int, nargs="*", default=None,
                    help="run only these glasses (default: all); two processes may share a folder")
    gb.add_argument("--no-progress", action="store_true")
    rep = sub.add_parser("report", help="write REPRODUCTION.md from the committed results")
    rep.add_argument("--check", action="store_true",
                     help="only compare: exit 1 when REPRODUCTION.md is out of date")
    args = parser.parse_args(argv)

    if args.command == "report":
        from .compendium.report import write_report

        path, current = write_report(check=args.check)
        if not current:
            print(f"{path} is out of date: run `python -m zifhelpers report`", file=sys.stderr)
            return 1
        print(f"{path} {'is up to date' if args.check else 'written'}")
        return 0

    if args.command == "pack":
        from .simulation.archive import pack_runs
        from .simulation.md import RunFolderError

        if not Path(args.root).is_dir():
            print(f"error: {args.root} is not a folder", file=sys.stderr)
            return 2
        try:
            out = pack_runs(args.root)
        except RunFolderError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        size = sum(p.stat().st_size for p in out["packed"]) / 2**20
        print(f"{len(out['packed'])} runs packed ({size:.1f} MiB), {len(out['removed'])} archives "
              f"removed (read back from summary.json), {len(out['skipped'])} without a checkpoint "
              f"yet; commit them with `git add -A {args.root}`")
        return 0

    if args.command == "glass-barrier":
        from .compendium.glass_barrier import glass_barrier
        from .simulation.md import MDGuardError

        try:
            path = glass_barrier(args.campaign, args.profile, seeds=args.seeds,
                                 progress=not args.no_progress)
        except (FileNotFoundError, KeyError, ValueError, RuntimeError, MDGuardError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        pooled = json.loads(path.read_text())["values"]
        b = pooled["pooled"]
        from .compendium.glass_barrier import plot_pooled_pmf
        from .compendium.plotting import savefig, use_style

        use_style()
        figures = savefig(plot_pooled_pmf(pooled), "04_glass_barrier", Path(args.campaign) / "figures")
        print(f"figure: {figures[0]}")
        print(f"{path}: Zn-N barrier {'=' if b['resolved'] else '>='} {b['lower_bound']:.1f} kJ/mol "
              f"over {pooled['pooled_ps']:.3g} ps of 300 K runs"
              + (f" (not finished yet: seeds {pooled['missing']})" if pooled["missing"] else ""))
        return 0

    if args.command == "runs":
        from .simulation.archive import list_runs

        if not Path(args.root).is_dir():
            print(f"error: {args.root} is not a folder", file=sys.stderr)
            return 2
        table = list_runs(args.root)
        print(table.to_string(index=False) if len(table) else f"no MD runs under {args.root}")
        counts = table.state.value_counts().to_dict() if len(table) else {}
        print(", ".join(f"{n} {state}" for state, n in counts.items()))
        return 0

    if args.command == "convert-published":
        return _convert_published(args)

    if args.command == "fetch":
        from .data.public import fetch_all

        paths = fetch_all()
        print(f"{len(paths)} files verified")
        return 0

    if args.command == "md-resume":
        from .simulation.md import MDGuardError, MDRun, RunFolderError

        try:
            path = MDRun.resume(args.workdir, progress=not args.no_progress)
        except MDGuardError as err:
            print(err, file=sys.stderr)
            return 3
        except (FileNotFoundError, RunFolderError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"finished: {path}")
        return 0

    from .compendium.runner import run_notebooks

    try:
        outcomes = run_notebooks(
            args.notebooks or None,
            profile=args.profile,
            output_dir=args.output,
            figures_dir=args.figures_dir,
            parameters=dict(args.parameter),
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [o.notebook for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} notebooks ran, {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _convert_published(args) -> int:
    import shutil

    from .potentials.convert import converted_published_model, converted_published_package

    if args.device not in (None, "cpu", "cuda"):
        print(f"--device {args.device}: expected cpu or cuda", file=sys.stderr)
        return 2
    for value, ending in ((args.output, ".nequip.zip"), (args.compiled, ".nequip.pt2")):
        if value is not None and not value.endswith(ending):
            print(f"{value}: expected a path ending in {ending}", file=sys.stderr)
            return 2
    package = converted_published_package()
    print(f"package (verified): {package}")
    if args.output:
        shutil.copyfile(package, args.output)
        print(f"copied to {args.output}")
    if args.compiled:
        compiled = converted_published_model(device=args.device, target=args.target)
        shutil.copyfile(compiled, args.compiled)
        print(f"compiled ({args.target}): {args.compiled}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
