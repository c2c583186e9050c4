"""A US-sized world (about 1,000,000 doctors), simulated and written in chunks.

One national world of a million doctors would not fit a laptop's memory while it is
simulated (prescriptions alone are about 90 million rows). The US world is instead a set
of independent *divisions*, each a world of ``DIVISION`` size (100,000 doctors, five
regions) with its own seed, simulated one at a time and appended as one part file per
table: ``<table>.parquet/part-NNN.parquet`` (a directory that :func:`crmlab.io.load`,
pyarrow, DuckDB and dask.dataframe all read as one table). Memory stays that of one
division whatever the number of doctors.

Every ID but ``product_id`` (and ``parent_id``) and every region name is prefixed with the
division (``U03-D0000001``, ``U03 North``): the same products are sold everywhere, and
nothing else is shared between divisions. ``truth.json`` holds each division's truth;
``truth_doctors`` and ``truth_accounts`` are partitioned like the tables.

Examples
--------
>>> divisions(250_000, 100_000)
[100000, 100000, 50000]
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.simulation.config import SCALES, World, WorldConfig
from crmlab.simulation.simulator import Simulator

#: Doctors in the US world.
US_DOCTORS = 1_000_000
#: One division: half the national world (national: 200,000 doctors in 10 regions).
DIVISION = dict(n_regions=5, territories_per_region=150, n_accounts=15000, n_doctors=100_000,
                distributors_per_region=30, n_months=SCALES["national"]["n_months"])
#: Tables the same in every division (written once).
SHARED = ("products",)
#: Columns that are not IDs of their own division although they end in ``_id``.
NOT_PREFIXED = ("product_id",)

__all__ = ["DIVISION", "US_DOCTORS", "division_seed", "divisions", "simulate_division", "write_us_world"]


def divisions(n_doctors: int, per_division: int = DIVISION["n_doctors"]) -> list[int]:
    """Doctors in each division: full divisions, then the rest."""
    if n_doctors < 1:
        raise ValueError(f"n_doctors must be at least 1, got {n_doctors}")
    full, rest = divmod(n_doctors, per_division)
    return [per_division] * full + ([rest] if rest else [])


def division_seed(seed: int, k: int) -> int:
    """The seed of division ``k``: its own stream, from ``seed`` and ``k``."""
    return int(np.random.SeedSequence([seed, 15, k]).generate_state(1)[0])


def simulate_division(seed: int, k: int, n_doctors: int = DIVISION["n_doctors"]) -> World:
    """Division ``k`` of the US world, its IDs and regions prefixed (accounts, territories
    and distributors scale with its doctors)."""
    share = n_doctors / DIVISION["n_doctors"]
    cfg = dict(DIVISION, n_doctors=n_doctors, n_accounts=max(40, round(DIVISION["n_accounts"] * share)),
               territories_per_region=max(2, round(DIVISION["territories_per_region"] * share)),
               distributors_per_region=max(2, round(DIVISION["distributors_per_region"] * share)))
    world = Simulator(WorldConfig(**cfg), division_seed(seed, k), "us").run()
    code = f"U{k + 1:02d}"
    tables = {name: _prefixed(table, code) for name, table in world.tables.items()}
    return World(tables=tables, truth=world.truth, truth_doctors=_prefixed(world.truth_doctors, code),
                 truth_accounts=_prefixed(world.truth_accounts, code))


def _prefixed(table: pd.DataFrame, code: str) -> pd.DataFrame:
    table = table.copy()
    for column in table.columns:
        if column == "region" or (column.endswith("_id") and column not in NOT_PREFIXED):
            values = table[column]
            text = values.astype("string")
            sep = " " if column == "region" else "-"
            table[column] = (code + sep + text).where(values.notna(), None).astype(object)
    return table


def write_us_world(out_dir: str | Path, seed: int = 7, n_doctors: int = US_DOCTORS, *,
                   per_division: int = DIVISION["n_doctors"], progress: bool = False) -> Path:
    """Simulate the US world division by division into ``out_dir`` (parquet directories).

    ``per_division`` doctors per division (the last one takes the rest); smaller
    divisions are for tests.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = divisions(n_doctors, per_division)
    truths = []
    for k, size in enumerate(sizes):
        world = simulate_division(seed, k, size)
        if k == 0:
            _clear(out, [*world.tables, "truth_doctors", "truth_accounts"])
        for name, table in {**world.tables, "truth_doctors": world.truth_doctors,
                            "truth_accounts": world.truth_accounts}.items():
            if name in SHARED:
                if k == 0:
                    table.to_parquet(out / f"{name}.parquet", index=False)
                continue
            folder = out / f"{name}.parquet"
            folder.mkdir(exist_ok=True)
            _typed(table).to_parquet(folder / f"part-{k:03d}.parquet", index=False)
        truths.append({"division": f"U{k + 1:02d}", "seed": division_seed(seed, k), "doctors": size,
                       **world.truth})
        if progress:
            print(f"division {k + 1}/{len(sizes)}: {size:,} doctors", flush=True)
        del world
    truth = {"scale": "us", "seed": seed, "doctors": n_doctors, "divisions": truths}
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True, default=str) + "\n",
                                    encoding="utf-8")
    return out


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Text columns as strings even when a division has no value in them (a null-typed
    column in one part file would not match the other parts' schema)."""
    text = [c for c in table.columns if table[c].dtype == object]
    return table.astype({c: "string" for c in text}) if text else table


def _clear(out: Path, names) -> None:
    """No file or part of an earlier world in ``out``."""
    for name in names:
        for old in (out / f"{name}.csv", out / f"{name}.parquet"):
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
