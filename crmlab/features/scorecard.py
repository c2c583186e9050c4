"""The process-vs-result scorecard: per territory and per rep, each month of the window,
activity (visits, reach, frequency, plan compliance, share of visits to A/B prescribers,
events) beside results (units, growth, the window's drivers, attainment of targets).

A pure function of the contract tables and the prescriber × month volume grids the
drivers analysis builds (:func:`crmlab.analyses.drivers.run`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.callplan import DEFAULT_QUOTA
from crmlab.features.common import completed_visits
from crmlab.features.drivers import grades
from crmlab.features.panels import month_start


def scorecard(tables, units, grids, own, months, current, before, doctor_level) -> pd.DataFrame:
    """Per territory and per rep, each month of the current window: activity beside results."""
    visits, doctors, reps = tables["visits"], tables["doctors"], tables["reps"]
    y = sum(grids[p].y for p in own)
    shift = current - before
    terr_of_unit = units["territory_id"].to_numpy()
    # grades from the volume of the 12 months before the current window (or what there is)
    history = np.arange(max(0, current[0] - 12), current[0])
    grade = grades(pd.Series(y[:, history].sum(axis=1) if len(history) else y.sum(axis=1),
                             index=units["unit_id"].to_numpy()))
    quota = grade.map(DEFAULT_QUOTA).astype(float)
    rows = []
    account_terr = tables["accounts"].assign(account_id=lambda f: f["account_id"].astype(str)).set_index(
        "account_id")["territory_id"].astype(str)
    if len(visits) and len(doctors):
        month = month_start(visits["date"])
        window = month.isin(months[current]).to_numpy()  # the window's visits only: a few months of many
        v = visits[window]
        v = v.assign(month=month[window].to_numpy(), doctor_id=v["doctor_id"].astype(str),
                     rep_id=v["rep_id"].astype(str))
        v = completed_visits(v)
        doc_account = doctors.assign(doctor_id=doctors["doctor_id"].astype(str)).set_index("doctor_id")[
            "account_id"].astype(str)
        v = v.assign(territory_id=v["doctor_id"].map(doc_account).map(account_terr))
        unit_grade = grade if doctor_level else pd.Series(dtype=str)
        v = v.assign(grade=v["doctor_id"].map(unit_grade).fillna("D"))
    else:
        v = pd.DataFrame(columns=["month", "doctor_id", "rep_id", "territory_id", "grade"])
    events = _attendance_by_territory_month(tables, account_terr)
    targets = tables["targets"]
    for k, t in enumerate(current):
        month = months[t]
        vm = v[v["month"] == month]
        units_now = pd.Series(y[:, t]).groupby(terr_of_unit).sum()
        units_then = pd.Series(y[:, t - shift[k]]).groupby(terr_of_unit).sum()
        if doctor_level:
            q = quota.groupby(terr_of_unit).sum()
            per_doc = vm.groupby("doctor_id").size()
            met = np.minimum(per_doc.reindex(quota.index).fillna(0.0), quota)
            met = met.groupby(terr_of_unit).sum()
        else:
            q = met = pd.Series(dtype=float)
        by_territory, by_rep = _visit_stats(vm, ["territory_id"]), _visit_stats(vm, ["territory_id", "rep_id"])
        reps_of = {}
        for territory, rep in sorted(by_rep):
            reps_of.setdefault(territory, []).append(rep)
        for territory in sorted(units_now.index):
            tv = by_territory.get(territory, NO_VISITS)
            rep_ids = reps_of.get(territory) or _rep_in(reps, territory, month)
            rows.append(_score_row("territory", territory, territory, month, tv, q.get(territory, np.nan),
                                   met.get(territory, np.nan), events.get((territory, month), 0),
                                   units_now[territory], units_then.get(territory, 0.0)))
            for rep in rep_ids:
                rv = by_rep.get((territory, rep), NO_VISITS)
                rows.append(_score_row("rep", rep, territory, month, rv, q.get(territory, np.nan),
                                       met.get(territory, np.nan) * (rv[0] / max(tv[0], 1)),
                                       events.get((territory, month), 0), units_now[territory],
                                       units_then.get(territory, 0.0)))
    card = pd.DataFrame(rows)
    card = _attainment(card, targets, own)
    return card


def _rep_in(reps, territory, month) -> list[str]:
    if not len(reps):
        return []
    r = reps[reps["territory_id"].astype(str) == territory]
    end = month + pd.offsets.MonthEnd(0)
    hired = r["hire_date"].isna() | (r["hire_date"] <= end) if "hire_date" in r else True
    left = r["end_date"].isna() | (r["end_date"] >= month) if "end_date" in r else True
    return sorted(r.loc[hired & left, "rep_id"].astype(str))


def _attendance_by_territory_month(tables, account_terr) -> dict:
    att, events, doctors = tables["event_attendance"], tables["events"], tables["doctors"]
    if not (len(att) and len(events) and len(doctors)):
        return {}
    doc_account = doctors.assign(doctor_id=doctors["doctor_id"].astype(str)).set_index("doctor_id")["account_id"] \
        .astype(str)
    joined = att.assign(event_id=att["event_id"].astype(str)).merge(
        events.assign(event_id=events["event_id"].astype(str))[["event_id", "start_date"]], on="event_id")
    joined = joined.assign(month=month_start(joined["start_date"]),
                           territory_id=joined["doctor_id"].astype(str).map(doc_account).map(account_terr))
    return joined.groupby(["territory_id", "month"]).size().to_dict()


#: (visits, doctors reached, visits to A/B prescribers) of a territory or rep without visits.
NO_VISITS = (0, 0, 0)


def _visit_stats(visits: pd.DataFrame, keys: list[str]) -> dict:
    """(visits, doctors reached, visits to A/B prescribers) per value of ``keys``, in one pass."""
    if not len(visits):
        return {}
    by = [visits[k] for k in keys]
    stats = pd.DataFrame({"n": visits.groupby(by).size(), "reach": visits["doctor_id"].groupby(by).nunique(),
                          "ab": visits["grade"].isin(["A", "B"]).groupby(by).sum()})
    return dict(zip(stats.index, zip(*(stats[c].tolist() for c in stats))))


def _score_row(level, unit_id, territory, month, visits, quota, met, events, units_now, units_then) -> dict:
    n, reach, ab = visits
    return {"level": level, "unit_id": unit_id, "territory_id": territory, "month": f"{month:%Y-%m}",
            "visits": n, "reach": reach, "frequency": n / reach if reach else np.nan,
            "plan_compliance": met / quota if quota and np.isfinite(quota) and quota > 0 else np.nan,
            "ab_share": ab / n if n else np.nan,
            "events": int(events), "units": float(units_now),
            "growth": units_now / units_then - 1 if units_then > 0 else np.nan}


def _attainment(card: pd.DataFrame, targets: pd.DataFrame, own) -> pd.DataFrame:
    card = card.assign(target_units=np.nan, attainment=np.nan)
    if not len(targets) or not len(card):
        return card
    t = targets[targets["product_id"].astype(str).isin(own)].assign(month=lambda f: pd.to_datetime(
        f["month"]).dt.strftime("%Y-%m"))
    for key, level in (("territory_id", "territory"), ("rep_id", "rep")):
        if key not in t:
            continue
        sel = t[t[key].notna()]
        if not len(sel):
            continue
        total = sel.groupby([sel[key].astype(str), "month"])["target_units"].sum()
        mask = card["level"] == level
        idx = pd.MultiIndex.from_arrays([card.loc[mask, "unit_id"], card.loc[mask, "month"]])
        card.loc[mask, "target_units"] = total.reindex(idx).to_numpy()
    card["attainment"] = card["units"] / card["target_units"]
    return card
