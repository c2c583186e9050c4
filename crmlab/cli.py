"""Command line: ``crmlab simulate``, ``crmlab validate``, ``crmlab run``."""

from __future__ import annotations

import argparse
import sys

from crmlab import __version__
from crmlab.config import ANALYSES


def _parse_assignment(text: str) -> tuple[str, object]:
    import yaml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"-p expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmlab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crmlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a simulated pharma world in the data contract")
    sim.add_argument("--out", required=True, help="output data directory")
    sim.add_argument("--scale", choices=["sample", "demo", "national"], default="sample")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--format", choices=["csv", "parquet"], default=None,
                     help="file format (default: csv for sample/demo, parquet for national)")
    sim.add_argument("--duplicates", type=float, default=None, metavar="RATE",
                     help="name doctors and accounts and enter this share of them twice")

    val = sub.add_parser("validate", help="check a data directory against the data contract")
    val.add_argument("data_dir")
    val.add_argument("--encoding", default="utf-8", help="CSV encoding, e.g. gb18030")
    val.add_argument("--rejects", default=None,
                     help="rejects file (default: DATA_DIR/rejects.csv)")

    run = sub.add_parser("run", help="run an analysis notebook with papermill")
    run.add_argument("analysis", choices=[*ANALYSES, "all"])
    run.add_argument("--data", default=None, help="data directory (default: params or data/sample)")
    run.add_argument("--out", default="reports", help="output directory")
    run.add_argument("--params", default=None, help="YAML file of parameters")
    run.add_argument("-p", dest="overrides", action="append", default=[], type=_parse_assignment,
                     metavar="KEY=VALUE", help="override one parameter (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from crmlab.io import DataContractError

    try:
        if args.command == "simulate":
            from crmlab.simulate import simulate, write_world

            fmt = args.format or ("parquet" if args.scale == "national" else "csv")
            world = simulate(scale=args.scale, seed=args.seed)
            if args.duplicates is not None:
                from crmlab.simulate_duplicates import plant_duplicates

                world = plant_duplicates(world, rate=args.duplicates, seed=args.seed)
            write_world(world, args.out, fmt=fmt)
            print(f"wrote the {args.scale} world (seed {args.seed}) to {args.out}")
            return 0
        if args.command == "validate":
            from crmlab.io import validate

            report = validate(args.data_dir, encoding=args.encoding)
            rejects = report.write_rejects(args.rejects)
            print(report.to_text())
            if rejects is not None:
                print(f"rejected rows written to {rejects}")
            return 0 if report.ok else 1
        if args.command == "run":
            from crmlab.runner import RunError, run_analyses

            analyses = list(ANALYSES) if args.analysis == "all" else [args.analysis]
            try:
                run_analyses(analyses, data_dir=args.data, out_dir=args.out,
                             params_file=args.params, overrides=dict(args.overrides))
            except RunError as err:
                print(f"crmlab run failed: {err}", file=sys.stderr)
                return 1
            return 0
    except DataContractError as err:
        print(f"crmlab: {err}", file=sys.stderr)
        return 1
    except (FileNotFoundError, NotADirectoryError, PermissionError) as err:
        print(f"crmlab: {err}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
