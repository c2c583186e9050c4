"""Command line: ``crmlab simulate``, ``crmlab validate``, ``crmlab run``, ``crmlab app``."""

from __future__ import annotations

import argparse
import sys

from crmlab import __version__
from crmlab.config import ANALYSES


def _parse_assignment(text: str) -> tuple[str, object]:
    """``-p KEY=VALUE``: the key and the value read as YAML (``3``, ``true``, ``[a, b]``).

    Raises
    ------
    ValueError
        In one line naming the parameter, if there is no key or the value is not YAML.

    Examples
    --------
    >>> _parse_assignment("horizon_months=6")
    ('horizon_months', 6)
    >>> _parse_assignment("x=[1")
    Traceback (most recent call last):
    ...
    ValueError: -p x: '[1' is not a valid value: expected ',' or ']', ... quote it to pass text, ...
    """
    import yaml

    from crmlab.config import yaml_problem

    key, equals, value = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ValueError(f"-p expects KEY=VALUE, got {text!r}")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise ValueError(f"-p {key}: {value!r} is not a valid value: {yaml_problem(err)}; "
                         f"quote it to pass text, e.g. -p '{key}=\"{value}\"'") from None


def _simulate_us(args) -> int:
    """``crmlab simulate --scale us``: division by division, partitioned parquet."""
    from crmlab.simulation.us import US_DOCTORS, write_us_world

    if args.scale != "us":
        print("crmlab simulate: --doctors is for --scale us only", file=sys.stderr)
        return 2
    if args.format == "csv" or args.duplicates is not None:
        print("crmlab simulate: the us world is written as partitioned parquet only, "
              "without --duplicates", file=sys.stderr)
        return 2
    n = US_DOCTORS if args.doctors is None else args.doctors
    if n < 1:
        print(f"crmlab simulate: --doctors must be at least 1, got {n}", file=sys.stderr)
        return 2
    write_us_world(args.out, seed=args.seed, n_doctors=n, progress=True)
    print(f"wrote the us world ({n:,} doctors, seed {args.seed}) to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmlab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crmlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write a simulated pharma world in the data contract")
    sim.add_argument("--out", required=True, help="output data directory")
    sim.add_argument("--scale", choices=["sample", "demo", "national", "us"], default="sample",
                     help="us: about 1,000,000 doctors, simulated by division into partitioned parquet")
    sim.add_argument("--doctors", type=int, default=None, metavar="N",
                     help="--scale us only: this many doctors instead of 1,000,000")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--format", choices=["csv", "parquet"], default=None,
                     help="file format (default: csv for sample/demo, parquet for national)")
    sim.add_argument("--shocks", type=int, default=None, metavar="PLACEMENT",
                     help="plant shocks with known cost (vacancy, competitor, destocking, cancelled seminars) "
                          "at this placement (0, 1, ...); their costs go to truth.json")
    sim.add_argument("--duplicates", type=float, default=None, metavar="RATE",
                     help="name doctors and accounts and enter this share of them twice")

    val = sub.add_parser("validate", help="check a data directory against the data contract")
    val.add_argument("data_dir")
    val.add_argument("--encoding", default="utf-8", help="CSV encoding, e.g. gb18030")
    val.add_argument("--rejects", default=None,
                     help="rejects file (default: DATA_DIR/rejects.csv; an old one is removed "
                          "when no row is rejected)")

    run = sub.add_parser("run", help="run an analysis notebook with papermill")
    run.add_argument("analysis", choices=[*ANALYSES, "all"])
    run.add_argument("--data", default=None, nargs="+", metavar="DIR",
                     help="data directory (default: params or data/sample); several: one market each, "
                          "reported in OUT/<directory name>, side by side with --cluster")
    run.add_argument("--out", default="reports", help="output directory")
    run.add_argument("--params", default=None, help="YAML file of parameters")
    run.add_argument("-p", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE",
                     help="override one parameter, value in YAML (repeatable)")
    run.add_argument("--cluster", default="", metavar="SPEC",
                     help="run the heavy loops on Dask: 'local' (a local cluster, one worker per "
                          "core), 'local:N', or a scheduler address tcp://host:8786 "
                          "(default: in-process)")

    app = sub.add_parser("app", help="serve the managers' dashboard in the browser (Voila)")
    source = app.add_mutually_exclusive_group()
    source.add_argument("--data", default=None, help="compute on this data directory (default: data/sample)")
    source.add_argument("--reports", default=None, help="show the runs published here by `crmlab run`")
    app.add_argument("--port", type=int, default=8866)
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from crmlab.io import DataContractError

    try:
        if args.command == "simulate":
            from crmlab.simulate import simulate, write_world

            if args.scale == "us" or args.doctors is not None:
                return _simulate_us(args)
            fmt = args.format or ("parquet" if args.scale == "national" else "csv")
            shocks = {"placement": args.shocks} if args.shocks is not None else None
            world = simulate(scale=args.scale, seed=args.seed, shocks=shocks)
            if args.duplicates is not None:
                from crmlab.simulate_duplicates import plant_duplicates

                world = plant_duplicates(world, rate=args.duplicates, seed=args.seed)
            write_world(world, args.out, fmt=fmt)
            print(f"wrote the {args.scale} world (seed {args.seed}) to {args.out}")
            return 0
        if args.command == "validate":
            from crmlab.io import validate

            report = validate(args.data_dir, encoding=args.encoding)
            print(report.to_text())
            target = args.rejects or report.data_dir / "rejects.csv"
            try:
                rejects = report.write_rejects(target)
            except OSError as err:
                # e.g. a read-only data folder: the report is printed all the same.
                reason = err.strerror or str(err)
                if report.rejects.empty:
                    print(f"no row was rejected, but the old rejects file {target} could "
                          f"not be removed: {reason}")
                else:
                    print(f"the rejected rows could not be written to {target}: {reason}; "
                          "write them elsewhere with --rejects PATH")
            else:
                if rejects is not None:
                    print(f"rejected rows written to {rejects}")
            return 0 if report.ok else 1
        if args.command == "run":
            from crmlab.runner import RunError, run_analyses

            try:
                overrides = dict(_parse_assignment(text) for text in args.overrides)
            except ValueError as err:
                print(f"crmlab run: {err}", file=sys.stderr)
                return 2
            analyses = list(ANALYSES) if args.analysis == "all" else [args.analysis]
            try:
                if args.data is not None and len(args.data) > 1:
                    from crmlab.runner.markets import run_markets

                    run_markets(analyses, args.data, out_dir=args.out, params_file=args.params,
                                overrides=overrides, cluster=args.cluster)
                else:
                    run_analyses(analyses, data_dir=args.data and args.data[0], out_dir=args.out,
                                 params_file=args.params, overrides=overrides, cluster=args.cluster)
            except RunError as err:
                print(f"crmlab run failed: {err}", file=sys.stderr)
                return 1
            return 0
        if args.command == "app":
            from pathlib import Path

            from crmlab.app import serve
            from crmlab.config import resolve_path

            folder = args.reports or args.data
            if folder is not None and not resolve_path(folder).is_dir():
                raise NotADirectoryError(f"no such directory: {folder}")
            if args.reports is not None and not any(Path(resolve_path(args.reports)).glob("*/run.json")):
                print(f"crmlab: warning: no published run in {args.reports} (crmlab run ... --out {args.reports})",
                      file=sys.stderr)
            return serve(data=args.data, reports=args.reports, port=args.port, host=args.host)
    except DataContractError as err:
        print(f"crmlab: {err}", file=sys.stderr)
        return 1
    except (FileNotFoundError, NotADirectoryError, PermissionError) as err:
        print(f"crmlab: {err}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
