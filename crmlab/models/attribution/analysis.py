"""The attribution analysis end to end: visit lift, event lift, campaign, ROI.

``attribution_report`` takes the contract tables (a ``crmlab.io.Dataset`` or a dict of
DataFrames) and returns an :class:`AttributionReport` holding the fitted models, the
``summary`` dict and the output tables; the notebook only displays them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.features.attribution import active_spell, detailing_by_channel, first_attendance, level_bins
from crmlab.features.panels import account_month_panel, doctor_month_panel, month_range, month_start
from crmlab.models.attribution.events import EventStudy
from crmlab.models.attribution.synth import SyntheticControl
from crmlab.models.attribution.visits import VisitLift, linear_lags_fe, naive_pooled_slope

EVENT_TYPES = ("seminar", "launch", "conference", "free_clinic", "other")


@dataclass
class AttributionReport:
    """Everything the attribution notebook shows and saves."""

    summary: dict
    tables: dict
    visit_model: VisitLift | None = None
    event_models: dict = field(default_factory=dict)
    campaign_model: SyntheticControl | None = None
    notes: list = field(default_factory=list)


def _table(tables, name: str) -> pd.DataFrame:
    try:
        table = tables[name]
    except KeyError:
        return pd.DataFrame()
    return table if table is not None else pd.DataFrame()


def most_detailed_product(visits: pd.DataFrame, products: pd.DataFrame) -> str | None:
    """The own product named in the most completed visits (None when visits are empty).

    Examples
    --------
    >>> visits = pd.DataFrame({"product_id": ["P1", "P2", "P2"], "status": ["completed"] * 3})
    >>> most_detailed_product(visits, pd.DataFrame({"product_id": ["P1", "P2"]}))
    'P2'
    """
    if not len(visits) or "product_id" not in visits:
        return None
    status = visits["status"].fillna("completed") if "status" in visits else pd.Series("completed", index=visits.index)
    named = visits.loc[status == "completed", "product_id"].dropna().astype(str)
    named = named[named != ""]
    if len(products) and "is_competitor" in products:
        own = products.loc[~products["is_competitor"].fillna(False).astype(bool), "product_id"].astype(str)
        named = named[named.isin(own)]
    if not len(named):
        return None
    counts = named.value_counts()
    return str(counts.index[0])


def attribution_report(tables, *, product_id: str | None = None, cost_per_visit: float = 30.0,
                       n_bins: int = 10, leads: int = 6, lags: int = 9, max_units: int | None = 20000,
                       seed: int = 7) -> AttributionReport:
    """Run the attribution analysis on contract tables.

    Parameters
    ----------
    tables : crmlab.io.Dataset or dict of DataFrame
        Contract tables; ``prescriptions`` (doctor level) or ``sales`` (account level).
    product_id : str, optional
        Product of the visit lift; default the most-detailed own product.
    cost_per_visit : float
        Cost of one completed visit, for the account ROI.
    n_bins : int
        Size bins for the month × size fixed effects.
    leads, lags : int
        Event-study window (months before / after the event).
    max_units : int, optional
        Largest number of units (doctors or accounts) the visit-lift profile and each event
        study are fitted on; larger panels (national scale) are fitted on a random sample
        of this size drawn with ``seed`` (None: always all units). The per-account lift
        and ROI still cover every unit.
    seed : int
        Seed of that sample; with the same data and parameters the outputs are identical.

    Returns
    -------
    AttributionReport

    Examples
    --------
    >>> report = attribution_report(crmlab.io.load("data/sample"))  # doctest: +SKIP
    >>> report.summary["visits"]["per_visit_long_run"]  # doctest: +SKIP
    """
    accounts, doctors = _table(tables, "accounts"), _table(tables, "doctors")
    visits, products = _table(tables, "visits"), _table(tables, "products")
    prescriptions, sales = _table(tables, "prescriptions"), _table(tables, "sales")
    events, attendance = _table(tables, "events"), _table(tables, "event_attendance")
    if not len(prescriptions) and not len(sales):
        raise ValueError("attribution needs an outcome: the 'prescriptions' or the 'sales' table is empty or "
                         "missing; add prescriptions.csv (doctor level) or sales.csv (account level)")
    if not len(accounts):
        raise ValueError("attribution needs the 'accounts' table (account_id, region, territory_id)")
    doctor_level = len(prescriptions) > 0 and len(doctors) > 0
    outcome_name = "prescriptions" if doctor_level else "sales"
    notes = []
    if not doctor_level:
        notes.append("No doctor-level prescriptions: visit and event lift are estimated on account x month "
                     "sell-out (units), with visits to the account's doctors; effects are per visit / per attendee "
                     "on account sales, less precise than doctor-level estimates.")
    if product_id is None:
        product_id = most_detailed_product(visits, products)
    if product_id is None:
        own = products.loc[~products.get("is_competitor", pd.Series(False, index=products.index))
                           .fillna(False).astype(bool), "product_id"] if len(products) else pd.Series(dtype=str)
        product_id = str(own.iloc[0]) if len(own) else str((sales if len(sales) else prescriptions)["product_id"].iloc[0])
    prices = (products.assign(product_id=products["product_id"].astype(str)).set_index("product_id")["unit_price"]
              .astype(float) if len(products) and "unit_price" in products else pd.Series(dtype=float))
    price = float(prices.get(product_id, np.nan))

    months = month_range(prescriptions["month"] if doctor_level else month_start(sales["date"]))

    # size: the unit's mean over all products, whose noise is not the analysed month's;
    # built once (it does not depend on the product) and kept as two per-row arrays
    every = (doctor_month_panel(doctors, _empty_visits(), prescriptions, product_ids=None, months=months)
             if doctor_level else account_month_panel(accounts, sales, product_ids=None, months=months))
    unit, y = ("doctor_id", "trx") if doctor_level else ("account_id", "sell_out")
    size_bin = level_bins(every, y, by=unit, n_bins=n_bins).to_numpy().astype(np.int16)
    size = every.groupby(unit, sort=False)[y].transform("mean").to_numpy()
    del every
    panels = {}

    def outcome_panel(product):
        # one lean panel per product (visit lift and every event type on it share it): the
        # national doctor x month grid is 7.2M rows, so only the columns the models read are kept
        if product not in panels:
            if doctor_level:
                full = doctor_month_panel(doctors, visits if len(visits) else _empty_visits(), prescriptions,
                                          product_ids=product, months=months)
                keep = ["doctor_id", "account_id", "month", "trx", "detailing_visits"]
            else:
                full = account_month_panel(accounts, sales, product_ids=product, months=months)
                keep = ["account_id", "month", "sell_out"]
            panel = full[keep].copy()
            del full
            panel["active"] = active_spell(panel, y, by=unit).to_numpy()
            for column in ("doctor_id", "account_id"):
                if column in panel:
                    panel[column] = panel[column].astype("category")
            panel["level_bin"] = size_bin
            panel["level"] = size
            panels[product] = panel
        return panels[product], unit, y

    summary = {"outcome": outcome_name, "product_id": product_id, "unit": "doctor" if doctor_level else "account",
               "months": {"first": str(months[0].date()), "last": str(months[-1].date()), "n": len(months)}}
    out_tables = {}
    report = AttributionReport(summary=summary, tables=out_tables, notes=notes)

    # ------------------------------------------------------------ visit lift
    panel, unit, y = outcome_panel(product_id)
    can_visit = len(visits) > 0 and len(doctors) > 0
    if can_visit:
        counts = detailing_by_channel(visits, doctors, months, product_id)
        if counts.filter(like="detailing_").to_numpy().sum() == 0:
            can_visit = False
    if can_visit:
        model = VisitLift(max_units=max_units, random_state=seed).fit(panel, counts, unit=unit, y=y)
        report.visit_model = model
        effects = model.results_.effects
        detailing = counts.filter(like="detailing_").sum(axis=1)
        if unit == "account_id":
            detailing = detailing.groupby([counts["account_id"], counts["month"]]).sum()
            detailing = detailing.reindex(pd.MultiIndex.from_frame(panel[["account_id", "month"]].astype(
                {"account_id": str})), fill_value=0.0)
        naive = naive_pooled_slope(panel, detailing.to_numpy(), y=y)
        lags_fit = linear_lags_fe(panel, detailing.to_numpy(), len(months), y=y, unit=unit)
        pick = lambda name: {k: model.results_.effect(name)[k] for k in ("estimate", "std_error", "ci_low", "ci_high")}
        summary["visits"] = {
            "per_visit_same_month": pick("per_visit_same_month"), "carryover": pick("carryover"),
            "per_visit_long_run": pick("per_visit_long_run"), "first_visit_long_run": pick("first_visit_long_run"),
            "saturation": pick("saturation"), "channel_weights": model.channel_weights_,
            "naive_per_visit": naive["estimate"], "linear_lags_long_run": lags_fit["estimate"],
            "naive_over_causal": naive["estimate"] / pick("per_visit_long_run")["estimate"],
            "n_obs": model.n_obs_, "n_units": model.n_units_, "method": model.results_.method}
        by_segment = model.effects_by_segment()
        summary["visits"]["by_segment"] = {
            "method": ("Units split into terciles of their mean outcome over the first 6 months (potential); the "
                       "fitted adstock regressor interacted with the tercile, same fixed effects; long-run effect "
                       "per visit made in each tercile, cluster-robust 95% interval conditional on the pooled "
                       "carry-over and saturation. High-potential units get more visits a month, so saturation "
                       "alone makes their effect per visit differ; overlapping intervals are no evidence of a "
                       "different response."),
            "segments": by_segment.to_dict("records")}
        out_tables["visit_effects"] = effects
        out_tables["visit_effects_by_segment"] = by_segment
        out_tables["response_curve"] = model.results_.response_curve
        out_tables["carryover_curve"] = model.results_.carryover_curve
        out_tables["naive_vs_causal"] = pd.DataFrame([
            {"method": "naive pooled (no fixed effects)", **naive},
            {"method": "fixed effects, linear lags 0-4", **lags_fit},
            {"method": "fixed effects, adstock + saturation (main)", **pick("per_visit_long_run")}])
        out_tables["roi_accounts"] = account_roi(model, panel, counts, unit, price, cost_per_visit)
    else:
        reason = ("no doctors/visits in the data" if not (len(visits) and len(doctors))
                  else f"no completed visits detail product {product_id}")
        summary["visits"] = {"per_visit_same_month": None, "carryover": None, "per_visit_long_run": None,
                             "naive_per_visit": None, "method": f"Visit lift cannot be estimated: {reason}."}
        notes.append(f"Visit lift cannot be estimated: {reason}.")
        out_tables["roi_accounts"] = pd.DataFrame(columns=["account_id", "visits", "incremental_units",
                                                           "incremental_revenue", "visit_cost", "roi",
                                                           "marginal_value_per_extra_visit", "rank"])

    # ------------------------------------------------------------ events with attendance
    event_rows, study_rows = [], []
    if len(events):
        events = events.assign(event_type=events["event_type"].astype(str))
        types = [t for t in EVENT_TYPES if t in set(events["event_type"])]
        attended = len(attendance) > 0 and len(doctors) > 0
        firsts = {}
        for event_type in types:
            firsts[event_type] = first_attendance(events, attendance, event_type, months) if attended else pd.Series(dtype=int)
        for event_type in types:
            chosen = events[events["event_type"] == event_type]
            product = chosen["product_id"].dropna().astype(str).mode()
            product = str(product.iloc[0]) if len(product) else product_id
            cost = float(chosen["cost"].fillna(0).sum()) if "cost" in chosen else np.nan
            first = firsts[event_type]
            row = {"event_type": event_type, "product_id": product, "events": len(chosen), "attendees": len(first),
                   "cost": cost}
            if not len(first):
                row["note"] = "no attendance list: not estimated"
                event_rows.append(row)
                continue
            ev_panel, ev_unit, ev_y = outcome_panel(product)
            same_product = [t for t in types if t != event_type and
                            (events.loc[events["event_type"] == t, "product_id"].astype(str) == product).any()]
            censor = [firsts[t] for t in same_product if len(firsts[t])]
            censor = pd.concat(censor).groupby(level=0).min() if censor else None
            per_unit = None
            if ev_unit == "account_id":
                account_of = doctors.assign(doctor_id=doctors["doctor_id"].astype(str)).set_index("doctor_id")["account_id"].astype(str)
                frame = pd.DataFrame({"account_id": first.index.map(account_of), "m": first.to_numpy()})
                first_acc = frame.groupby("account_id")["m"].min()
                window = frame["m"].to_numpy() <= frame["account_id"].map(first_acc).to_numpy() + lags
                per_unit = frame[window].groupby("account_id").size()
                if censor is not None:
                    censor = pd.DataFrame({"a": censor.index.map(account_of), "m": censor.to_numpy()}).groupby("a")["m"].min()
                first = first_acc
            try:
                study = EventStudy(leads=leads, lags=lags, max_units=max_units, random_state=seed).fit(
                    ev_panel, first, unit=ev_unit, y=ev_y, censor_month=censor, attendees_per_unit=per_unit)
            except ValueError as error:
                row["note"] = str(error)
                event_rows.append(row)
                continue
            report.event_models[event_type] = study
            res = study.results_
            units = res.per_attendee_total["estimate"] * len(firsts[event_type])
            unit_price = float(prices.get(product, np.nan))
            revenue = units * unit_price
            row.update({"per_attendee_month": res.per_attendee_month, "per_attendee_total": res.per_attendee_total,
                        "effect_months": res.effect_months, "pretrend_p_value": res.pretrend_p_value,
                        "incremental_units": units, "incremental_revenue": revenue,
                        "roi": (revenue - cost) / cost if cost else np.nan, "method": res.method})
            event_rows.append(row)
            study_rows.append(res.coefficients.assign(event_type=event_type, product_id=product))

    # ------------------------------------------------------------ region campaign
    campaign = events[events["event_type"] == "advertising"] if len(events) else pd.DataFrame()
    summary["campaigns"] = []
    for _, ad in campaign.iterrows():
        row = campaign_effect(ad, accounts, sales, prescriptions, doctors, months, prices)
        if row.pop("model", None) is not None:
            report.campaign_model = row.pop("_model")
            out_tables["campaign_path"] = row.pop("_path")
            out_tables["campaign_placebo"] = row.pop("_placebo")
        summary["campaigns"].append({k: v for k, v in row.items() if not k.startswith("_")})
        event_rows.append({"event_type": "advertising", "product_id": row.get("product_id"), "events": 1,
                           "attendees": 0, "cost": row.get("cost"), "incremental_units": row.get("incremental_units"),
                           "incremental_revenue": row.get("incremental_revenue"), "roi": row.get("roi"),
                           "per_attendee_month": None, "per_attendee_total": None, "method": row.get("method"),
                           "note": row.get("note")})

    summary["events"] = [{k: v for k, v in r.items()} for r in event_rows]
    out_tables["event_study"] = (pd.concat(study_rows, ignore_index=True)[
        ["event_type", "product_id", "months_after", "estimate", "std_error", "ci_low", "ci_high"]]
        if study_rows else pd.DataFrame(columns=["event_type", "product_id", "months_after", "estimate",
                                                  "std_error", "ci_low", "ci_high"]))
    out_tables["roi_events"] = pd.DataFrame([{
        "event_type": r["event_type"], "product_id": r.get("product_id"), "events": r.get("events"),
        "attendees": r.get("attendees"),
        "per_attendee_total": (r.get("per_attendee_total") or {}).get("estimate"),
        "per_attendee_total_ci_low": (r.get("per_attendee_total") or {}).get("ci_low"),
        "per_attendee_total_ci_high": (r.get("per_attendee_total") or {}).get("ci_high"),
        "incremental_units": r.get("incremental_units"), "incremental_revenue": r.get("incremental_revenue"),
        "cost": r.get("cost"), "roi": r.get("roi")} for r in event_rows],
        columns=["event_type", "product_id", "events", "attendees", "per_attendee_total",
                 "per_attendee_total_ci_low", "per_attendee_total_ci_high", "incremental_units",
                 "incremental_revenue", "cost", "roi"])
    summary["notes"] = notes
    summary["cost_per_visit"] = cost_per_visit
    return report


def _empty_visits() -> pd.DataFrame:
    return pd.DataFrame({"visit_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                         "doctor_id": pd.Series(dtype=str), "product_id": pd.Series(dtype=str),
                         "channel": pd.Series(dtype=str), "status": pd.Series(dtype=str)})


def account_roi(model: VisitLift, panel: pd.DataFrame, counts: pd.DataFrame, unit: str, price: float,
                cost_per_visit: float) -> pd.DataFrame:
    """Incremental units and revenue from visits per account against their cost, ranked.

    ``marginal_value_per_extra_visit`` is the long-run revenue of one more face-to-face
    visit per month at the account's current visit rate, minus its cost; accounts are
    ranked by it (where extra visits would pay most).
    """
    lift = model.unit_month_lift().sum(axis=1)
    marginal = model.unit_marginal_long_run()
    units = pd.DataFrame({unit: model.units_, "incremental_units": lift, "marginal_units": marginal})
    if unit == "doctor_id":
        account_of = panel.drop_duplicates("doctor_id").set_index(panel.drop_duplicates("doctor_id")["doctor_id"].astype(str))["account_id"].astype(str)
        units["account_id"] = units["doctor_id"].map(account_of)
        by_account = units.groupby("account_id").agg(incremental_units=("incremental_units", "sum"),
                                                      marginal_units=("marginal_units", "mean"))
    else:
        by_account = units.set_index("account_id")[["incremental_units", "marginal_units"]]
    visits = counts.filter(like="detailing_").sum(axis=1).groupby(counts["account_id"].astype(str)).sum()
    out = by_account.join(visits.rename("visits"), how="outer").fillna(0.0)
    out["incremental_revenue"] = out["incremental_units"] * price
    out["visit_cost"] = out["visits"] * cost_per_visit
    out["roi"] = np.where(out["visit_cost"] > 0, (out["incremental_revenue"] - out["visit_cost"])
                          / out["visit_cost"].where(out["visit_cost"] > 0, 1), np.nan)
    out["marginal_value_per_extra_visit"] = out["marginal_units"] * price - cost_per_visit
    out = out.reset_index().rename(columns={"index": "account_id"})
    out = out.sort_values(["marginal_value_per_extra_visit", "account_id"], ascending=[False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out[["account_id", "visits", "incremental_units", "incremental_revenue", "visit_cost", "roi",
                "marginal_value_per_extra_visit", "rank"]].reset_index(drop=True)


def campaign_effect(ad: pd.Series, accounts, sales, prescriptions, doctors, months, prices, *,
                    max_donors: int = 60) -> dict:
    """Synthetic control of a region's sales of the promoted product against other regions' territories.

    Donors are the territories of the other regions (a region has too few peers for a
    convex match; territories share the national demand shape and are untouched by the
    campaign), each normalised by its pre-campaign mean so the match is on shape and the
    effect is a percentage of the region's level. With more than ``max_donors``
    territories outside the region, each region's territories are pooled into equal groups.
    """
    product = str(ad.get("product_id")) if pd.notna(ad.get("product_id")) else None
    region = ad.get("region")
    cost = float(ad["cost"]) if pd.notna(ad.get("cost")) else np.nan
    row = {"event_id": str(ad["event_id"]), "region": None if pd.isna(region) else str(region),
           "product_id": product, "start": str(pd.Timestamp(ad["start_date"]).date()), "cost": cost}
    if pd.isna(region):
        row["note"] = "campaign without a region: not estimated"
        return row
    if len(sales):
        panel = account_month_panel(accounts, sales, product_ids=product, months=months)
        y = "sell_out"
    else:
        panel = account_month_panel(accounts, None, doctors=doctors, prescriptions=prescriptions,
                                    product_ids=product, months=months)
        y = "trx"
    region_col = panel["region"].astype(str)
    treated = panel[region_col == str(region)].groupby("month")[y].sum().rename("treated")
    other = (region_col != str(region)).to_numpy()
    # at national scale the other regions hold ~1,350 territories: a convex fit per placebo over that
    # many donors takes hours, so each region's territories are pooled round-robin into equal groups
    # (sums of untouched territories are still valid donors) keeping at most ``max_donors``
    pairs = (pd.DataFrame({"region": region_col[other], "territory": panel["territory_id"].astype(str)[other]})
             .drop_duplicates().sort_values(["region", "territory"], kind="stable"))
    per_region = max(1, max_donors // max(pairs["region"].nunique(), 1))
    size = pairs.groupby("region")["territory"].transform("size")
    rank = pairs.groupby("region").cumcount()
    pairs["donor"] = np.where(size <= per_region, pairs["territory"],
                              pairs["region"] + ":group" + (rank % per_region + 1).astype(str))
    pooled = bool((size > per_region).any())
    donor_of = pairs.set_index("territory")["donor"]
    donor_col = panel["territory_id"].astype(str)[other].map(donor_of)
    donors = panel[other].groupby(["month", donor_col])[y].sum().unstack()
    donors = donors.loc[:, donors.sum() > 0]
    wide = pd.concat([treated, donors], axis=1).sort_index()
    start = month_start(pd.Series([pd.Timestamp(ad["start_date"])])).iloc[0]
    try:
        model = SyntheticControl(normalize=True).fit(wide, "treated", start)
    except ValueError as error:
        row["note"] = f"not estimated: {error}"
        return row
    res = model.results_
    post = res.path[res.path["post"]]
    units = float(post["gap"].sum())
    revenue = units * float(prices.get(product, np.nan))
    row.update({"lift_pct": res.post_gap_pct, "incremental_units": units, "incremental_revenue": revenue,
                "roi": (revenue - cost) / cost if cost else np.nan, "pre_rmspe": res.pre_rmspe,
                "placebo_p_value": res.p_value, "placebo_rank": res.rank, "donors": int(len(res.weights)),
                "method": ("Synthetic control of the region's monthly sales against the territories of the other "
                           "regions (each normalised by its pre-campaign mean); convex weights fitted on "
                           "pre-campaign months; placebo p-value = rank of the region's post/pre RMSPE ratio among "
                           "all units." + (f" The other regions' territories are pooled round-robin into "
                                          f"{per_region} groups per region (at most {max_donors} donors)."
                                          if pooled else "")),
                "model": True, "_model": model,
                "_path": res.path.rename(columns={"period": "month"}),
                "_placebo": res.placebo.assign(unit=lambda d: d["unit"].replace({"treated": str(region)}))})
    return row
