"""A simulated pharmaceutical market, written in the data contract, with its truth.

The world is the test bed that proves crmlab's estimators right: every effect an
analysis estimates is planted here with a known value, recorded in ``truth.json``
(and, per doctor and per account, in ``truth_doctors.csv`` / ``truth_accounts.csv``).

What is planted (``t`` is the month index, ``i`` a doctor):

* **Potential.** ``potential_i`` = the doctor's monthly prescriptions of the main own
  product without promotion; log-normal, driven by account tier, title, department
  outpatient volume and noise. Observable grading indicators are noisy proxies of it.
* **Targeting.** Reps visit doctors by potential (target frequency by potential band,
  with doctor-level noise), so visits and prescriptions are correlated across doctors
  far beyond the causal effect. Within a doctor, visits vary with rep effort
  (holidays, month-to-month noise) and with vacancies when a rep leaves.
* **Visit effect.** For product ``p`` the lift in month ``t`` is
  ``beta_p * sum_k decay**k * s(e_{i,t-k})`` where ``e`` is the channel-weighted count
  of completed visits detailing ``p`` and ``s(x) = (1 - r**x) / (1 - r)`` gives
  diminishing returns (the n-th visit in a month adds ``r**(n-1)`` of the first).
* **Events.** Seminars (main product) and launches (second product) with attendees
  chosen by potential; attendees' prescriptions rise by a constant amount per month
  over a known window after the event month. Conferences have no effect (a placebo).
  A region-level advertising campaign lifts the main product by a known percentage.
* **Lapse.** A doctor starts to lapse with a monthly hazard driven by observable
  signals (no visit for 3 months, a peer in the same account lapsing, low potential,
  junior title); own-product prescriptions then decline over three months to zero and
  switch to the competitor. Pharmacies lapse likewise.
* **Channel.** Account sell-out (``sales``) through one distributor per account; each
  distributor orders (``shipments``) to an order-up-to days-on-hand target in whole
  lots, with quarter-end loading, so sell-in is lumpier than sell-out; month-end
  ``inventory`` follows the identity ``I_t = I_{t-1} + sell_in_t - sell_out_t``.
* Seasonality (winter peak) and a slow trend on all demand.

Options, off by default (``OPTIONS``; ``FEEDBACK_WORLD`` switches them on as issue 17
measured them), each drawing from its own random stream so the default worlds stay
draw for draw the same:

* ``demand_shock_sd``: a persistent doctor demand shock (AR(1), not in the data).
* ``feedback_targeting``: reps raise next month's visit rate after prescribing beat
  their expectation (see :mod:`crmlab.simulation.feedback`): fixed effects then
  overstate the visit effect.
* ``rep_absence_rate``: reps away some days (leave, training, sick), written to the
  optional ``rep_absences`` table: capacity shocks reps do not choose
  (:mod:`crmlab.simulation.capacity`). Vacancies between reps exist in every world.
* ``shocks``: shocks with a known cost in the last months, for the drivers analysis
  (:mod:`crmlab.simulation.shocks`): a territory left without a rep, a competitor taking
  a share of a territory's doctors, a distributor destocking, a region's seminars
  cancelled; ``simulate("sample", 1, shocks={"placement": 2})`` picks where they hit,
  ``truth.json`` (``shocks``) holds where and their cost per month.

Examples
--------
>>> world = simulate(scale="sample", seed=1)
>>> sorted(world.tables)[:3]
['accounts', 'distributors', 'doctors']
>>> world.truth["visits"]["decay"]
0.5
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from crmlab.simulation.config import FEEDBACK_WORLD, OPTIONS, SCALES, START, World, WorldConfig
from crmlab.simulation.simulator import Simulator

#: Tables only a world with options switched on writes.
OPTIONAL_TABLES = frozenset({"rep_absences"})

__all__ = ["FEEDBACK_WORLD", "OPTIONS", "SCALES", "START", "World", "WorldConfig", "simulate", "write_world"]


def simulate(scale: str = "sample", seed: int = 7, **overrides) -> World:
    """Simulate a pharma market.

    Parameters
    ----------
    scale : {"sample", "demo", "national"}
        Size preset; see ``SCALES``.
    seed : int
        Seed of the only random generator used; the same seed gives the same world.
    **overrides
        Any ``WorldConfig`` field, e.g. ``n_doctors=2000`` or ``visit_decay=0.3``, or an
        option, e.g. ``simulate("demo", 1, **FEEDBACK_WORLD)``.

    Returns
    -------
    World
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    cfg = WorldConfig(**{**SCALES[scale], **overrides})
    return Simulator(cfg, seed, scale).run()


def write_world(world: World, out_dir: str | Path, fmt: str = "csv") -> Path:
    """Write the contract tables, ``truth.json`` and the per-entity truth files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in world.tables.items():
        _write_table(table, out / name, fmt)
    for name in OPTIONAL_TABLES.difference(world.tables):  # no stale table of an earlier world
        for old in (out / f"{name}.csv", out / f"{name}.parquet"):
            old.unlink(missing_ok=True)
    _write_table(world.truth_doctors, out / "truth_doctors", "csv")
    _write_table(world.truth_accounts, out / "truth_accounts", "csv")
    (out / "truth.json").write_text(json.dumps(world.truth, indent=2, sort_keys=True) + "\n",
                                    encoding="utf-8")
    return out


def _write_table(table: pd.DataFrame, stem: Path, fmt: str) -> None:
    for old in (stem.with_suffix(".csv"), stem.with_suffix(".parquet")):
        old.unlink(missing_ok=True)
    if fmt == "parquet":
        table.to_parquet(stem.with_suffix(".parquet"), index=False)
    else:
        table.to_csv(stem.with_suffix(".csv"), index=False, date_format="%Y-%m-%d",
                     float_format="%.10g", lineterminator="\n")
