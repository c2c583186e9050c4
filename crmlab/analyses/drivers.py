"""Why sales moved: an additive bridge of the change in own-product units, and a scorecard.

The last ``months`` complete months are compared with the same months a year earlier
(``compare: previous_year``) or with the months just before (``previous_period``). The
change in own-product units of the nation, each region and each territory, over all own
products and per product, is split into drivers that add up exactly to it:

* ``market``: the change expected with activity unchanged, the growth of the volume
  without visit and event lift among continuing prescribers *outside the unit's
  region* (comparable units), applied to the unit's own such volume;
* ``visits``: the change in the visit lift estimated by attribution (adstock with
  carry-over and saturation; the capacity-shock IV scales it when attribution's main
  design is the IV, i.e. when reps chase demand);
* ``events``: the change in event lift (attribution's event studies, per attendee);
* ``lapsed_prescribers`` / ``new_prescribers``: volume of units active in the
  comparison window that bought nothing now, and of units new now;
* ``existing_prescribers``: the rest of the change among continuing prescribers;
* ``channel_stock``: with sell-in (``shipments``), distributors building or drawing
  stock: the change in sell-in minus sell-out of each distributor, shared out to
  territories by their sell-out through it;
* ``other``: the rest (sell-out not written by the doctors' prescriptions, returns).

The bridged total is sell-in when shipments exist, else sell-out, else prescriptions.
With doctor-level prescriptions a prescriber is a doctor (accounts without doctors,
e.g. pharmacies, count as accounts); with sales only it is an account.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlab.analyses import attribution
from crmlab.analyses.base import (AnalysisResult, ParameterError, Params, check_params, contract_tables, load_data,
                                  param)
from crmlab.features.attribution import (detailing_by_channel, first_attendance, outcome_panel, unit_size)
from crmlab.features.channel_stock import channel_stock_by_territory, sell_out_change_by_territory
from crmlab.features.common import ids_as_str
from crmlab.features.drivers import DRIVERS, ESTIMATED, market_growth, month_grid, parse_month, split_change, \
    status, windows
from crmlab.features.panels import month_range, month_start
from crmlab.features.scorecard import scorecard as build_scorecard
from crmlab.io import Dataset
from crmlab.models.attribution import VisitLift
from crmlab.models.uncertainty import z_value

TABLES = ("accounts", "doctors", "visits", "products", "prescriptions", "sales", "events", "event_attendance",
          "reps", "rep_absences", "shipments", "distributors", "targets")
BRIDGE_COLUMNS = ["level", "unit_id", "product_id", "driver", "change", "lower", "upper"]
LEVELS = ("national", "region", "territory")


@dataclasses.dataclass(frozen=True)
class DriversParams(Params):
    """Parameters of the drivers analysis."""

    months: int = param(3, "months in each window (the last complete months, to `end`)")
    compare: str = param("previous_year", "comparison window: the same months a year earlier, or the months just "
                                          "before", choices=("previous_year", "previous_period"))
    end: str = param("", "last month of the current window, YYYY-MM ('' = the last month in the data)")
    alpha: float = param(0.05, "bounds of the estimated drivers cover 1 - alpha (0.05: 95%)")
    max_units: int | None = param(20000, "attribution: fit the visit and event models on a seeded sample of this "
                                         "many units on larger panels")
    top_units: int = param(5, "units with the largest shortfall against market explained in the report")
    visit_design: str = param("main", "visit lift of the main product: attribution's main design (the capacity-shock "
                                      "IV when reps chase demand, else fixed effects), or one of them",
                              choices=("main", "fixed_effects", "iv"))


@dataclasses.dataclass
class DriversResult(AnalysisResult):
    """The driver bridge and the scorecard.

    Attributes
    ----------
    bridge : DataFrame
        ``level, unit_id, product_id, driver, change, lower, upper`` (``drivers.csv``).
    scorecard : DataFrame
        Per rep and territory and month of the current window: activity (visits, reach,
        frequency, plan compliance, share of visits to A/B doctors, events) and results
        (units, growth on the comparison month, target and attainment, and the
        territory's drivers over the whole window, ``window_<driver>``).
    units : DataFrame
        Per territory (all own products): region, prescribers before, lapsed, new, units
        before and now (for the report's sentences).
    level : str
        ``doctor`` or ``account`` (sales only).
    outcome : str
        ``sell_in``, ``sell_out`` or ``prescriptions``: what the total bridges.
    current, comparison : DatetimeIndex
    products : list of str
    notes : list of str
    attribution : dict
        Visit effect and event effects used, with their source.
    """

    bridge: pd.DataFrame
    scorecard: pd.DataFrame
    units: pd.DataFrame
    level: str
    outcome: str
    current: pd.DatetimeIndex
    comparison: pd.DatetimeIndex
    products: list
    notes: list
    attribution: dict

    def national(self, product_id: str = "") -> pd.Series:
        """The national bridge (change per driver and ``total``)."""
        b = self.bridge
        rows = b[(b["level"] == "national") & (b["product_id"] == product_id)]
        return rows.set_index("driver")["change"]

    def summary(self) -> dict:
        national = self.national()
        return super().summary() | {
            "level": self.level, "outcome": self.outcome, "compare": self.params.compare,
            "current": {"first": f"{self.current[0]:%Y-%m}", "last": f"{self.current[-1]:%Y-%m}"},
            "comparison": {"first": f"{self.comparison[0]:%Y-%m}", "last": f"{self.comparison[-1]:%Y-%m}"},
            "products": self.products,
            "national": {k: round(float(v), 2) for k, v in national.items()},
            "territories": int((self.bridge["level"] == "territory").sum() // (len(DRIVERS) + 1)
                               // (len(self.products) + 1)),
            "attribution": self.attribution, "notes": self.notes}

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"drivers": self.bridge, "scorecard": self.scorecard}


@dataclasses.dataclass
class _Grids:
    """Unit × month grids of one product: volume, visit lift, event lift."""

    y: np.ndarray
    lift: np.ndarray
    event: np.ndarray


def run(data: str | Dataset | Mapping = "data/sample", **params) -> DriversResult:
    """Split the change in own-product units into drivers; score activity against results.

    Parameters
    ----------
    data : str, Path, Dataset or mapping of DataFrames
        A data directory in the data contract, a loaded dataset, or contract tables by name.
    **params
        :class:`DriversParams`.

    Raises
    ------
    ParameterError
        Unknown or ill-typed parameter, ``months`` < 1, ``end`` not a month, ``alpha`` outside (0, 1).
    ValueError
        No outcome, or not enough history for the comparison.

    Examples
    --------
    >>> result = run("data/sample")
    >>> b = result.bridge.query("level == 'national' and product_id == ''").set_index("driver")["change"]
    >>> bool(abs(b.drop("total").sum() - b["total"]) < 1e-6)
    True
    """
    params = check_params(DriversParams, params)
    if params.months < 1:
        raise ParameterError(f"parameter 'months' must be at least 1, got {params.months}")
    if not 0 < params.alpha < 1:
        raise ParameterError(f"parameter 'alpha' must be between 0 and 1, got {params.alpha!r}")
    try:
        end = parse_month(params.end) if params.end else None
    except ValueError as err:
        raise ParameterError(str(err)) from None
    if not isinstance(data, Mapping):
        data = load_data(data, params)
    tables, rejects = contract_tables(data, params, TABLES)
    _check_windows(tables, params, end)
    # attribution's defaults (its analysis in the same refresh is then reused: crmlab.analyses.shared)
    attr = attribution.run(data, product_id="", max_units=params.max_units, seed=params.seed, alpha=params.alpha)
    doctor_level = attr.unit == "doctor"
    months = attr.months
    current, before = windows(months, params.months, params.compare, end)
    own = _own_products(tables)
    units = _units(tables, doctor_level)
    grids, ratios, used = {}, {}, {}
    for p in own:
        lift, ratio, source = _visit_lift(attr, tables, p, months, units, doctor_level, params)
        event, event_ratio, event_source = _event_lift(attr, tables, p, months, units, doctor_level)
        grids[p] = _Grids(y=_volume(tables, p, months, units, doctor_level), lift=lift, event=event)
        ratios[p] = (ratio, event_ratio)
        used[p] = {"visits": source, "events": event_source}
    own = [p for p in own if grids[p].y.sum() > 0]
    outcome = "sell_in" if len(tables["shipments"]) else ("sell_out" if len(tables["sales"]) else "prescriptions")
    z = z_value(params.alpha)
    bridge, unit_rows = _bridge(tables, units, grids, ratios, own, months, current, before, z, doctor_level,
                                outcome)
    notes = list(attr.notes)
    if not doctor_level:
        notes.append("Sales only (no doctor-level prescriptions): prescribers are accounts. A doctor who stops "
                     "inside an account that still buys counts in existing_prescribers, not lapsed_prescribers; "
                     "visits are summed over an account's doctors; events count the account's attendees.")
    if outcome == "sell_in":
        notes.append("The total is sell-in (shipments to distributors); channel_stock is the distributors' stock "
                     "build or draw (sell-in minus sell-out), shared out to territories by their sell-out.")
    scorecard = build_scorecard(tables, units, grids, own, months, current, before, doctor_level)
    # the territory's bridge over the whole window beside each month's activity
    window = bridge[(bridge["level"] == "territory") & (bridge["product_id"] == "")].pivot(
        index="unit_id", columns="driver", values="change")[[*DRIVERS, "total"]].add_prefix("window_")
    scorecard = scorecard.join(window, on="territory_id")
    return DriversResult(
        params=params, rejects=rejects, bridge=bridge, scorecard=scorecard, units=unit_rows,
        level="doctor" if doctor_level else "account", outcome=outcome, current=months[current],
        comparison=months[before], products=own, notes=notes, attribution=used)


def _check_windows(tables, params, end) -> None:
    """Fail early (before any model is fitted) when the windows do not fit in the data."""
    prescriptions, sales = tables["prescriptions"], tables["sales"]
    if not len(prescriptions) and not len(sales):
        raise ValueError("drivers needs an outcome: the 'prescriptions' or the 'sales' table is empty or missing")
    doctor_level = len(prescriptions) > 0 and len(tables["doctors"]) > 0
    months = month_range(prescriptions["month"] if doctor_level else month_start(sales["date"]))
    try:
        windows(months, params.months, params.compare, end)
    except ValueError as err:
        raise ParameterError(f"parameters 'months', 'compare', 'end': {err}") from None


def _own_products(tables) -> list[str]:
    products = tables["products"]
    if len(products) and "is_competitor" in products:
        own = products.loc[~products["is_competitor"].fillna(False).astype(bool), "product_id"]
    elif len(products):
        own = products["product_id"]
    else:
        source = tables["prescriptions"] if len(tables["prescriptions"]) else tables["sales"]
        own = source["product_id"].drop_duplicates()
    return sorted(own.astype(str))


def _units(tables, doctor_level: bool) -> pd.DataFrame:
    """Prescriber units: ``unit_id, kind, account_id, territory_id, region``."""
    accounts = tables["accounts"].assign(account_id=lambda f: f["account_id"].astype(str))
    geo = accounts.set_index("account_id")[["territory_id", "region"]].astype(str)
    frames = []
    with_doctors = set()
    if doctor_level:
        doctors = tables["doctors"]
        d = pd.DataFrame({"unit_id": doctors["doctor_id"].astype(str), "kind": "doctor",
                          "account_id": doctors["account_id"].astype(str)})
        frames.append(d)
        with_doctors = set(d["account_id"])
    if len(tables["sales"]):
        buying = set(tables["sales"]["account_id"].astype(str))
        rest = sorted(a for a in accounts["account_id"] if a in buying and a not in with_doctors)
        frames.append(pd.DataFrame({"unit_id": rest, "kind": "account", "account_id": rest}))
    units = pd.concat(frames, ignore_index=True)
    units = units.join(geo, on="account_id")
    missing = units["territory_id"].isna()
    if missing.any():
        raise ValueError(f"drivers: {int(missing.sum())} prescriber(s) whose account is not in 'accounts' "
                         f"(e.g. {units.loc[missing, 'unit_id'].iat[0]}): their territory is unknown")
    return units.reset_index(drop=True)


def _volume(tables, product: str, months, units, doctor_level: bool) -> np.ndarray:
    ids = pd.Index(units["unit_id"])
    y = np.zeros((len(units), len(months)))
    if doctor_level:
        pres = tables["prescriptions"]
        pres = pres[ids_as_str(pres["product_id"]).isin([product])]
        y += month_grid(pres, "doctor_id", "trx", ids, months)
    sales = tables["sales"]
    if len(sales):
        sales = sales[ids_as_str(sales["product_id"]).isin([product])]
        accounts_only = units["kind"] == "account"
        grid = month_grid(sales.assign(month=month_start(sales["date"])), "account_id", "units", ids, months)
        y += np.where(accounts_only.to_numpy()[:, None], grid, 0.0)
    return y


def _visit_lift(attr, tables, product, months, units, doctor_level, params):
    """Estimated visit lift per unit × month, the interval ratio, and where it came from."""
    ids = pd.Index(units["unit_id"])
    zero = np.zeros((len(units), len(months)))
    if product == attr.product_id and attr.visit_model is not None:
        model = attr.visit_model
        effect = attr.visit_effect("per_visit_long_run")
        fe = model.results_.effect("per_visit_long_run")["estimate"]
        design = attr.visit_design if params.visit_design == "main" else params.visit_design
        if design == "iv" and attr.iv_model is None:
            design = "fixed_effects"
        if design == "iv":
            effect = attr.iv_model.results_.effect("per_visit_long_run")
        else:
            effect = model.results_.effect("per_visit_long_run")
        scale = effect["estimate"] / fe if design == "iv" and fe else 1.0
        source = f"attribution ({design}{', its main design' if design == attr.visit_design else ''})"
    else:
        visits = tables["visits"]
        if not (len(visits) and len(tables["doctors"])):
            return zero, (1.0, 1.0), "no visits"
        counts = detailing_by_channel(visits, tables["doctors"], months, product)
        if counts.filter(like="detailing_").to_numpy().sum() == 0:
            return zero, (1.0, 1.0), "not detailed"
        size_bin, size = unit_size(tables, months, doctor_level=doctor_level, n_bins=attr.params.n_bins)
        panel = outcome_panel(tables, product, months, doctor_level=doctor_level, size_bin=size_bin, size=size)
        try:
            model = VisitLift(max_units=params.max_units, random_state=params.seed, alpha=params.alpha).fit(
                panel, counts, unit="doctor_id" if doctor_level else "account_id",
                y="trx" if doctor_level else "sell_out")
        except ValueError as err:
            return zero, (1.0, 1.0), f"not estimated: {err}"
        effect, scale, source = model.results_.effect("per_visit_long_run"), 1.0, "attribution's visit model (fixed effects)"
    lift = model.unit_month_lift() * scale
    rows = pd.Index(model.units_).get_indexer(ids)
    out = np.where(rows[:, None] >= 0, lift[np.maximum(rows, 0)], 0.0)
    est = effect["estimate"]
    ratio = (effect["ci_low"] / est, effect["ci_high"] / est) if est else (1.0, 1.0)
    return out, ratio, source


def _event_lift(attr, tables, product, months, units, doctor_level):
    """Estimated event lift per unit × month (per attendee per month, in the months with an effect)."""
    out = np.zeros((len(units), len(months)))
    ratios, sources = [], []
    attendance, doctors = tables["event_attendance"], tables["doctors"]
    if not (len(attendance) and len(doctors)):
        return out, (1.0, 1.0), "no attendance list"
    t = np.arange(len(months))
    ids = pd.Index(units["unit_id"])
    account_of = doctors.assign(doctor_id=doctors["doctor_id"].astype(str)).set_index("doctor_id")["account_id"] \
        .astype(str)
    for effect in attr.event_effects:
        per_month = effect.per_attendee_month
        if effect.product_id != product or not per_month or not np.isfinite(per_month.get("estimate", np.nan)):
            continue
        n_months = max(int(effect.effect_months or 0), 0)
        if n_months == 0:
            sources.append(f"{effect.event_type}: no month with an effect")
            continue
        first = first_attendance(tables["events"], attendance, effect.event_type, months)
        who = first.index if doctor_level else first.index.map(account_of)
        rows = ids.get_indexer(pd.Index(who.astype(str)))
        since = t[None, :] - first.to_numpy()[:, None]
        lift = per_month["estimate"] * ((since >= 1) & (since <= n_months))
        ok = rows >= 0
        np.add.at(out, rows[ok], lift[ok])
        est = per_month["estimate"]
        if est:
            ratios.append((per_month["ci_low"] / est, per_month["ci_high"] / est))
        sources.append(f"{effect.event_type}: {est:.2f} per attendee-month for {n_months} months")
    ratio = (min(r[0] for r in ratios), max(r[1] for r in ratios)) if ratios else (1.0, 1.0)
    return out, ratio, "; ".join(sources) or "no event study for this product"


# ---------------------------------------------------------------------------------------- bridge
def _bridge(tables, units, grids, ratios, own, months, current, before, z, doctor_level, outcome):
    """The bridge table and per-territory counts for the report."""
    region, territory = units["region"].to_numpy(), units["territory_id"].to_numpy()
    sums = {p: {k: (getattr(g, k)[:, before].sum(axis=1), getattr(g, k)[:, current].sum(axis=1))
                for k in ("y", "lift", "event")} for p, g in grids.items()}
    rows = []
    per_product = {}
    for p in own:
        s = sums[p]
        base_b = np.clip(s["y"][0] - s["lift"][0] - s["event"][0], 0, None)
        base_c = np.clip(s["y"][1] - s["lift"][1] - s["event"][1], 0, None)
        cont = status(s["y"][0], s["y"][1]) == "continuing"
        g, se = market_growth(base_b, base_c, region, territory, cont)
        per_product[p] = (g.reindex(region).to_numpy(), se.reindex(region).to_numpy())
        split = split_change(s["y"][0], s["y"][1], s["lift"][0], s["lift"][1], s["event"][0], s["event"][1],
                             per_product[p][0], per_product[p][1], z, *ratios[p])
        rows.append(_aggregate(split, units, tables, [p], months, current, before, outcome, doctor_level).assign(
            product_id=p))
    # all own products: status over their sum, market per product
    y0 = sum(sums[p]["y"][0] for p in own)
    y1 = sum(sums[p]["y"][1] for p in own)
    state = status(y0, y1)
    total = None
    for p in own:
        s = sums[p]
        split = split_change(s["y"][0], s["y"][1], s["lift"][0], s["lift"][1], s["event"][0], s["event"][1],
                             per_product[p][0], per_product[p][1], z, *ratios[p], state=state)
        split = split.drop(columns="status")
        total = split if total is None else total.add(split, fill_value=0)
    agg = _aggregate(total, units, tables, own, months, current, before, outcome, doctor_level).assign(product_id="")
    bridge = pd.concat([agg, *rows], ignore_index=True)
    counts = _unit_counts(units, y0, y1, state)
    return bridge[BRIDGE_COLUMNS], counts


def _aggregate(split, units, tables, products, months, current, before, outcome, doctor_level) -> pd.DataFrame:
    """Territory, region and national bridges from the per-unit split, with channel_stock and other."""
    cols = ["market", "visits", "events", "lapsed_prescribers", "new_prescribers", "existing_prescribers",
            "change"] + [f"{d}_{b}" for d in ESTIMATED for b in ("lower", "upper")]
    frame = split[cols].assign(territory_id=units["territory_id"].to_numpy(), region=units["region"].to_numpy())
    terr = frame.groupby("territory_id")[cols].sum()
    terr_region = frame.groupby("territory_id")["region"].first()
    sell_out = sell_out_change_by_territory(tables, products, months, current, before) if outcome != "prescriptions" \
        else None
    stock = channel_stock_by_territory(tables, products, months, current, before) if outcome == "sell_in" else None
    terr = terr.reindex(sorted(set(terr.index) | set(_territories(tables)))).fillna(0.0)
    terr_region = terr_region.reindex(terr.index).fillna(_territory_regions(tables).reindex(terr.index))
    terr["channel_stock"] = stock.reindex(terr.index).fillna(0.0) if stock is not None else 0.0
    if sell_out is not None and doctor_level:
        terr["other"] = sell_out.reindex(terr.index).fillna(0.0) - terr["change"]
    else:
        terr["other"] = 0.0
    terr["total"] = terr["change"] + terr["other"] + terr["channel_stock"]
    region = terr.groupby(terr_region).sum()
    national = terr.sum().to_frame("").T
    return pd.concat([_long(level, table) for level, table in
                      (("national", national), ("region", region), ("territory", terr))], ignore_index=True)


def _long(level: str, table: pd.DataFrame) -> pd.DataFrame:
    """One row per unit (``table``'s index) and driver: the change and its interval."""
    drivers = [*DRIVERS, "total"]
    change = table[drivers].to_numpy(float)
    lower, upper = change.copy(), change.copy()
    estimated_low = estimated_high = 0.0
    for d in ESTIMATED:
        estimated_low = estimated_low + (table[f"{d}_lower"].to_numpy(float) - table[d].to_numpy(float))
        estimated_high = estimated_high + (table[f"{d}_upper"].to_numpy(float) - table[d].to_numpy(float))
    for j, driver in enumerate(drivers):
        if driver in ESTIMATED:
            lower[:, j], upper[:, j] = table[f"{driver}_lower"], table[f"{driver}_upper"]
        elif driver == "existing_prescribers":
            lower[:, j], upper[:, j] = change[:, j] - estimated_high, change[:, j] - estimated_low
    units = np.asarray([str(u) for u in table.index], dtype=object)
    return pd.DataFrame({"level": level, "unit_id": np.repeat(units, len(drivers)),
                         "driver": np.tile(np.asarray(drivers, dtype=object), len(table)),
                         "change": change.ravel(), "lower": lower.ravel(), "upper": upper.ravel()})


def _territories(tables) -> list[str]:
    return sorted(tables["accounts"]["territory_id"].dropna().astype(str).unique())


def _territory_regions(tables) -> pd.Series:
    a = tables["accounts"]
    return a.assign(territory_id=a["territory_id"].astype(str)).groupby("territory_id")["region"].first().astype(str)


def _unit_counts(units, y0, y1, state) -> pd.DataFrame:
    frame = pd.DataFrame({"territory_id": units["territory_id"], "region": units["region"],
                          "before": y0, "now": y1, "state": state})
    return pd.DataFrame({
        "region": frame.groupby("territory_id")["region"].first(),
        "prescribers_before": frame.assign(a=frame["before"] > 0).groupby("territory_id")["a"].sum(),
        "lapsed": frame.assign(a=frame["state"] == "lapsed").groupby("territory_id")["a"].sum(),
        "new": frame.assign(a=frame["state"] == "new").groupby("territory_id")["a"].sum(),
        "units_before": frame.groupby("territory_id")["before"].sum(),
        "units_now": frame.groupby("territory_id")["now"].sum(),
    })
