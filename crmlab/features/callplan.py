"""Call plan and SFE KPIs: planned vs actual visits, reach, frequency, alerts, funnel.

Grades are the strings ``"A"``–``"D"``; a grade's monthly visit *quota* comes from a
``{"A": 4, "B": 2, ...}`` mapping, and *target doctors* are those whose grade has a
quota above zero. Only completed visits count (a missing status counts as completed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from crmlab.features.common import completed_visits, require
from crmlab.features.panels import codes_in, month_start
from crmlab.features.volumes import as_text, last_month, period_months

#: Monthly visits per doctor, by grade.
DEFAULT_QUOTA = {"A": 4, "B": 2, "C": 1, "D": 0}


def rep_months(reps: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Rep × month pairs in which the rep was employed at least one day.

    A missing ``hire_date`` counts as employed from the start, a missing ``end_date``
    as still employed.

    Examples
    --------
    >>> reps = pd.DataFrame({"rep_id": ["R1"], "territory_id": ["T1"],
    ...     "hire_date": pd.to_datetime(["2025-02-10"]), "end_date": [pd.NaT]})
    >>> rep_months(reps, pd.date_range("2025-01-01", periods=3, freq="MS"))["month"].dt.month.tolist()
    [2, 3]
    """
    require(reps, "reps", ["rep_id", "territory_id"], "call plan")
    n_m = len(months)
    base = pd.DataFrame({
        "rep_id": np.repeat(as_text(reps["rep_id"]).to_numpy(), n_m),
        "territory_id": np.repeat(as_text(reps["territory_id"]).to_numpy(), n_m),
        "manager_id": np.repeat((as_text(reps["manager_id"]) if "manager_id" in reps
                                 else pd.Series(None, index=reps.index)).to_numpy(), n_m),
        "month": np.tile(months.to_numpy(), len(reps)),
    })
    hire = pd.to_datetime(reps["hire_date"]) if "hire_date" in reps else pd.Series(pd.NaT, index=reps.index)
    end = pd.to_datetime(reps["end_date"]) if "end_date" in reps else pd.Series(pd.NaT, index=reps.index)
    hire = np.repeat(hire.to_numpy(), n_m)
    end = np.repeat(end.to_numpy(), n_m)
    month_end = (base["month"] + pd.offsets.MonthEnd(0)).to_numpy()
    active = (pd.isna(hire) | (hire <= month_end)) & (pd.isna(end) | (end >= base["month"].to_numpy()))
    return base[active].reset_index(drop=True)


def call_plan_compliance(visits: pd.DataFrame, reps: pd.DataFrame, doctor_grades: pd.DataFrame,
                         quota: Mapping[str, float], *, months: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Planned and actual visits per rep, month and grade.

    A rep's doctors are the graded doctors of the rep's territory; the plan is
    ``quota[grade] × doctors`` for every month the rep is employed. ``actual`` counts
    the rep's **completed** visits to those doctors in the month (cancelled and planned
    visits do not count; visits outside the territory do not count).

    Parameters
    ----------
    visits, reps : DataFrame
        Contract tables.
    doctor_grades : DataFrame
        ``doctor_id, territory_id, grade``.
    quota : mapping
        Monthly visits per doctor by grade, e.g. ``{"A": 4, "B": 2, "C": 1, "D": 0}``.
    months : DatetimeIndex, optional
        Default: every month with a visit.

    Returns
    -------
    DataFrame
        ``rep_id, manager_id, territory_id, month, grade, doctors, planned, actual,
        compliance, reached`` (reached = doctors seen at least once); compliance is NaN
        where nothing was planned.

    Examples
    --------
    >>> reps = pd.DataFrame({"rep_id": ["R1"], "territory_id": ["T1"]})
    >>> grades = pd.DataFrame({"doctor_id": ["D1", "D2"], "territory_id": ["T1", "T1"], "grade": ["A", "A"]})
    >>> visits = pd.DataFrame({"visit_id": ["V1", "V2"], "date": pd.to_datetime(["2025-01-03", "2025-01-09"]),
    ...     "rep_id": ["R1", "R1"], "doctor_id": ["D1", "D1"], "status": ["completed", "completed"]})
    >>> call_plan_compliance(visits, reps, grades, {"A": 2})[["doctors", "planned", "actual", "compliance", "reached"]
    ...     ].to_dict("records")
    [{'doctors': 2, 'planned': 4.0, 'actual': 2, 'compliance': 0.5, 'reached': 1}]
    """
    require(visits, "visits", ["date", "rep_id", "doctor_id"], "call plan")
    require(doctor_grades, "doctor grades", ["doctor_id", "territory_id", "grade"], "call plan")
    completed = completed_visits(visits, ["doctor_id", "rep_id", "date"])
    visit_month = month_start(completed["date"])
    if months is None:
        if not len(completed):
            raise ValueError("call plan: the 'visits' table has no completed visits")
        months = pd.date_range(visit_month.min(), visit_month.max(), freq="MS")
    grades = pd.DataFrame({"doctor_id": as_text(doctor_grades["doctor_id"]).to_numpy(),
                           "territory_id": as_text(doctor_grades["territory_id"]).to_numpy(),
                           "grade": as_text(doctor_grades["grade"]).to_numpy()})
    counts = grades.groupby(["territory_id", "grade"]).size().rename("doctors").reset_index()
    plan = rep_months(reps, months).merge(counts, on="territory_id", how="inner")
    plan["planned"] = plan["doctors"] * plan["grade"].map({str(k): float(v) for k, v in quota.items()}).fillna(0.0)

    actual = _seen(completed, visit_month, months, grades, reps)
    out = plan.merge(actual, on=["rep_id", "month", "grade"], how="left")
    out[["actual", "reached"]] = out[["actual", "reached"]].fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["compliance"] = np.where(out["planned"] > 0, out["actual"] / out["planned"].where(out["planned"] > 0, 1),
                                     np.nan)
    columns = ["rep_id", "manager_id", "territory_id", "month", "grade", "doctors", "planned", "actual",
               "compliance", "reached"]
    return out[columns].sort_values(["rep_id", "month", "grade"], kind="stable").reset_index(drop=True)


def _seen(completed, visit_month, months, grades, reps) -> pd.DataFrame:
    """Completed visits and doctors reached per rep, month and grade, in the rep's own territory.

    By integer codes, not a Python string per visit: each visit's doctor and rep are
    looked up in ``grades`` and ``reps`` (one row per doctor and per rep).
    """
    if not grades["doctor_id"].is_unique:
        raise ValueError("call plan: the doctor grades list a doctor more than once")
    doctor = codes_in(completed["doctor_id"], pd.Index(grades["doctor_id"]))
    rep_ids = as_text(reps["rep_id"]).to_numpy()
    rep = codes_in(completed["rep_id"], pd.Index(rep_ids))
    own = _in_own_territory(doctor, rep, grades["territory_id"], as_text(reps["territory_id"]))
    grade, grade_names = pd.factorize(grades["grade"])
    grade = np.append(grade, -1)[doctor]
    keep = visit_month.isin(months).to_numpy() & own & (grade >= 0)
    seen = pd.DataFrame({"rep": rep[keep], "month": visit_month.to_numpy()[keep], "grade": grade[keep],
                         "doctor": doctor[keep]})
    actual = seen.groupby(["rep", "month", "grade"]).agg(actual=("doctor", "size"),
                                                          reached=("doctor", "nunique")).reset_index()
    return pd.DataFrame({"rep_id": rep_ids[actual["rep"].to_numpy()], "month": actual["month"].to_numpy(),
                         "grade": np.asarray(grade_names, dtype=object)[actual["grade"].to_numpy()],
                         "actual": actual["actual"].to_numpy(), "reached": actual["reached"].to_numpy()})


def _in_own_territory(doctor: np.ndarray, rep: np.ndarray, doctor_territory: pd.Series,
                      rep_territory: pd.Series) -> np.ndarray:
    """Whether each visit's doctor is in its rep's territory.

    ``doctor`` and ``rep`` are each visit's row in ``doctor_territory`` and ``rep_territory``
    (-1: not there); a missing territory matches nothing.
    """
    territory = pd.Index(pd.unique(np.concatenate([doctor_territory.dropna().to_numpy(object),
                                                   rep_territory.dropna().to_numpy(object)])))
    of_doctor = np.append(territory.get_indexer(doctor_territory), -1)[doctor]
    of_rep = np.append(territory.get_indexer(rep_territory), -2)[rep]
    return (of_doctor >= 0) & (of_doctor == of_rep)


def sfe_kpis(compliance: pd.DataFrame, quota: Mapping[str, float], *, by: str = "rep_id") -> pd.DataFrame:
    """SFE KPIs per ``by`` (``rep_id`` or ``manager_id``) and month from :func:`call_plan_compliance`.

    Only target grades (quota > 0) enter: ``target_doctors``, ``planned``, ``actual``,
    ``compliance = actual / planned``, ``reach = reached / target_doctors``,
    ``frequency = actual / reached`` (visits per reached doctor) and
    ``a_coverage`` (share of grade-A doctors seen).

    Examples
    --------
    >>> c = pd.DataFrame({"rep_id": ["R1", "R1"], "month": pd.to_datetime(["2025-01-01"] * 2),
    ...     "grade": ["A", "D"], "doctors": [2, 5], "planned": [8.0, 0.0], "actual": [6, 3], "reached": [1, 2]})
    >>> sfe_kpis(c, {"A": 4, "D": 0})[["planned", "actual", "compliance", "reach", "frequency", "a_coverage"]
    ...     ].to_dict("records")
    [{'planned': 8.0, 'actual': 6, 'compliance': 0.75, 'reach': 0.5, 'frequency': 6.0, 'a_coverage': 0.5}]
    """
    targets = [str(g) for g, q in quota.items() if q > 0]
    target = compliance[compliance["grade"].isin(targets)]
    grouped = target.groupby([by, "month"], sort=True)
    out = grouped[["doctors", "planned", "actual", "reached"]].sum().rename(columns={"doctors": "target_doctors"})
    a = compliance[compliance["grade"] == "A"].groupby([by, "month"])[["doctors", "reached"]].sum()
    out = out.join(a.rename(columns={"doctors": "a_doctors", "reached": "a_reached"}), how="left")
    out[["a_doctors", "a_reached"]] = out[["a_doctors", "a_reached"]].fillna(0).astype(int)

    def ratio(num, den):
        return np.where(out[den] > 0, out[num] / out[den].where(out[den] > 0, 1), np.nan)

    out["compliance"] = ratio("actual", "planned")
    out["reach"] = ratio("reached", "target_doctors")
    out["frequency"] = ratio("actual", "reached")
    out["a_coverage"] = ratio("a_reached", "a_doctors")
    return out.reset_index()


def compliance_alerts(kpis: pd.DataFrame, threshold: float, *, month: pd.Timestamp | None = None,
                      by: str = "rep_id") -> pd.DataFrame:
    """Rows of :func:`sfe_kpis` below ``threshold`` compliance in ``month`` (default: the latest).

    Examples
    --------
    >>> k = pd.DataFrame({"rep_id": ["R1", "R2"], "month": pd.to_datetime(["2025-01-01"] * 2),
    ...     "compliance": [0.5, 0.9]})
    >>> compliance_alerts(k, 0.8)["rep_id"].tolist()
    ['R1']
    """
    month = kpis["month"].max() if month is None else pd.Timestamp(month)
    latest = kpis[(kpis["month"] == month) & (kpis["compliance"] < threshold)]
    return latest.sort_values(["compliance", by], kind="stable").reset_index(drop=True)


def unseen_doctors(visits: pd.DataFrame, doctor_grades: pd.DataFrame, *, weeks: int = 8,
                   grades: Iterable[str] = ("A",), as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Doctors of ``grades`` without a completed visit in the ``weeks`` weeks up to ``as_of``.

    ``as_of`` defaults to the latest visit date. ``weeks_since`` is NaN for doctors never seen.

    Examples
    --------
    >>> g = pd.DataFrame({"doctor_id": ["D1", "D2"], "territory_id": ["T1", "T1"], "grade": ["A", "A"]})
    >>> v = pd.DataFrame({"date": pd.to_datetime(["2025-01-01", "2025-03-01"]), "rep_id": ["R1", "R1"],
    ...     "doctor_id": ["D1", "D2"]})
    >>> unseen_doctors(v, g, weeks=4)[["doctor_id", "weeks_since"]].to_dict("records")
    [{'doctor_id': 'D1', 'weeks_since': 8.4}]
    """
    completed = completed_visits(visits, ["doctor_id", "date"])
    as_of = pd.Timestamp(completed["date"].max() if as_of is None else as_of)
    last = completed[completed["date"] <= as_of].groupby(as_text(completed["doctor_id"]))["date"].max()
    target = doctor_grades[doctor_grades["grade"].isin(list(grades))].copy()
    target["doctor_id"] = as_text(target["doctor_id"]).to_numpy()
    target["last_visit"] = target["doctor_id"].map(last)
    target["weeks_since"] = ((as_of - target["last_visit"]).dt.days / 7).round(1)
    unseen = target[target["last_visit"].isna() | (target["weeks_since"] > weeks)]
    keep = [c for c in ("doctor_id", "territory_id", "grade", "last_visit", "weeks_since") if c in unseen]
    return unseen[keep].sort_values(["weeks_since", "doctor_id"], ascending=[False, True],
                                    na_position="first", kind="stable").reset_index(drop=True)


def weekly_plan_vs_actual(visits: pd.DataFrame, compliance: pd.DataFrame,
                          quota: Mapping[str, float], *,
                          doctor_grades: pd.DataFrame | None = None) -> pd.DataFrame:
    """Plan vs actual per rep and week (weeks start on Monday).

    The weekly plan is the month's planned visits (target grades) × 7 / days in the
    month of the week's Monday; actual counts the rep's completed visits — only those
    to target doctors of the rep's territory when ``doctor_grades`` is given (as in
    :func:`call_plan_compliance`).

    Examples
    --------
    >>> c = pd.DataFrame({"rep_id": ["R1"], "territory_id": ["T1"], "month": pd.to_datetime(["2025-09-01"]),
    ...     "grade": ["A"], "planned": [30.0]})
    >>> v = pd.DataFrame({"date": pd.to_datetime(["2025-09-02"]), "rep_id": ["R1"], "doctor_id": ["D1"]})
    >>> weekly_plan_vs_actual(v, c, {"A": 1})[["week", "planned", "actual"]].astype(str).values.tolist()
    [['2025-09-01', '7.0', '1']]
    """
    targets = [str(g) for g, q in quota.items() if q > 0]
    plan = compliance[compliance["grade"].isin(targets)].groupby(["rep_id", "month"])["planned"].sum()
    completed = completed_visits(visits, ["doctor_id", "rep_id", "date"])
    if doctor_grades is not None:
        target = doctor_grades[doctor_grades["grade"].isin(targets)]
        rep_territory = compliance.drop_duplicates("rep_id").set_index("rep_id")["territory_id"]
        doctor = codes_in(completed["doctor_id"], pd.Index(as_text(target["doctor_id"])))
        rep = codes_in(completed["rep_id"], rep_territory.index)
        completed = completed[_in_own_territory(doctor, rep, as_text(target["territory_id"]), rep_territory)]
    week = (completed["date"] - pd.to_timedelta(completed["date"].dt.weekday, unit="D")).dt.normalize()
    rep, rep_ids = pd.factorize(completed["rep_id"])  # codes, not a Python string per visit
    counted = pd.Series(1, index=pd.MultiIndex.from_arrays([rep, week.to_numpy()], names=["rep", "week"]))
    actual = counted[rep >= 0].groupby(level=["rep", "week"]).size()
    actual = pd.DataFrame({"rep_id": as_text(pd.Series(rep_ids)).to_numpy()[actual.index.get_level_values(0)],
                           "week": actual.index.get_level_values(1), "actual": actual.to_numpy()})
    actual["month"] = month_start(actual["week"])
    actual = actual.merge(plan.reset_index(), on=["rep_id", "month"], how="inner")
    actual["planned"] = actual["planned"] * 7 / actual["month"].dt.days_in_month
    actual["compliance"] = np.where(actual["planned"] > 0, actual["actual"] / actual["planned"].where(
        actual["planned"] > 0, 1), np.nan)
    return actual[["rep_id", "week", "planned", "actual", "compliance"]].sort_values(
        ["rep_id", "week"], kind="stable").reset_index(drop=True)


def adoption_funnel(doctor_grades: pd.DataFrame, visits: pd.DataFrame, prescriptions: pd.DataFrame | None,
                    quota: Mapping[str, float], *, product_ids: Iterable[str], months: int = 3,
                    end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Target doctors → reached → prescribing → growing, per territory and product.

    Nested steps over the last ``months`` months up to ``end`` (default: the latest
    month of the data): *target* = grade with quota > 0; *reached* = at least one
    completed visit; *prescribing* = reached and ``trx > 0`` for the product; *growing*
    = prescribing and more ``trx`` than in the ``months`` months before.

    Examples
    --------
    >>> g = pd.DataFrame({"doctor_id": ["D1", "D2"], "territory_id": ["T1", "T1"], "grade": ["A", "B"]})
    >>> v = pd.DataFrame({"date": pd.to_datetime(["2025-02-03"]), "rep_id": ["R1"], "doctor_id": ["D1"]})
    >>> rx = pd.DataFrame({"doctor_id": ["D1", "D1"], "product_id": ["P1", "P1"],
    ...     "month": pd.to_datetime(["2025-01-01", "2025-02-01"]), "trx": [1.0, 3.0]})
    >>> adoption_funnel(g, v, rx, {"A": 1, "B": 1}, product_ids=["P1"], months=1)[
    ...     ["targets", "reached", "prescribing", "growing"]].values.tolist()
    [[2, 1, 1, 1]]
    """
    completed = completed_visits(visits, ["doctor_id", "date"])
    anchors = [month_start(completed["date"])]
    has_rx = prescriptions is not None and len(prescriptions)
    if has_rx:
        anchors.append(prescriptions["month"])
    end = last_month(*anchors) if end is None else pd.Timestamp(end)
    now, before = period_months(end, months), period_months(end, months, lag=months)
    targets = [str(g) for g, q in quota.items() if q > 0]
    grades = doctor_grades[doctor_grades["grade"].isin(targets)]
    doctor = pd.DataFrame({"doctor_id": as_text(grades["doctor_id"]).to_numpy(),
                           "territory_id": as_text(grades["territory_id"]).to_numpy()})
    seen = set(as_text(completed.loc[month_start(completed["date"]).isin(now), "doctor_id"]))
    doctor["reached"] = doctor["doctor_id"].isin(seen)
    ids = pd.Index(doctor["doctor_id"].dropna().unique())
    at = ids.get_indexer(doctor["doctor_id"])  # -1 (no ID): the 0 appended below
    if has_rx:  # the columns and months used only (not a copy of every column per product)
        rx_all = prescriptions.loc[prescriptions["month"].isin(now.union(before)).to_numpy(),
                                   ["doctor_id", "product_id", "month", "trx"]]
    rows = []
    for product in product_ids:
        d = doctor.copy()
        d["product_id"] = product
        if has_rx:
            rx = rx_all[rx_all["product_id"] == product]
            r = np.append(_trx_by_doctor(rx, now, ids), 0.0)[at]
            e = np.append(_trx_by_doctor(rx, before, ids), 0.0)[at]
            d["prescribing"] = d["reached"] & (r > 0)
            d["growing"] = d["prescribing"] & (r > e)
        else:
            d["prescribing"] = np.nan
            d["growing"] = np.nan
        rows.append(d)
    long = pd.concat(rows, ignore_index=True)
    funnel = long.groupby(["territory_id", "product_id"]).agg(
        targets=("doctor_id", "size"), reached=("reached", "sum"),
        prescribing=("prescribing", "sum"), growing=("growing", "sum")).reset_index()
    for column in ("reached", "prescribing", "growing"):
        funnel[column] = funnel[column].astype(int)
    funnel["reach_rate"] = funnel["reached"] / funnel["targets"]
    funnel["prescribing_rate"] = np.where(funnel["reached"] > 0, funnel["prescribing"] / funnel["reached"].clip(1),
                                          np.nan)
    funnel["growing_rate"] = np.where(funnel["prescribing"] > 0,
                                      funnel["growing"] / funnel["prescribing"].clip(1), np.nan)
    if not has_rx:
        funnel[["prescribing", "growing", "prescribing_rate", "growing_rate"]] = np.nan
    return funnel


def quota_from_params(params: Mapping) -> dict[str, float]:
    """Monthly visit quota per grade from the flat ``quota_a`` … ``quota_d`` parameters.

    Examples
    --------
    >>> quota_from_params({"quota_a": 6})
    {'A': 6.0, 'B': 2.0, 'C': 1.0, 'D': 0.0}
    """
    return {g: float(params.get(f"quota_{g.lower()}", q)) for g, q in DEFAULT_QUOTA.items()}


def _trx_by_doctor(rx: pd.DataFrame, months: pd.DatetimeIndex, ids: pd.Index) -> np.ndarray:
    """``trx`` over ``months`` per doctor of ``ids`` (unique), by integer codes."""
    rows = rx[rx["month"].isin(months)]
    codes = codes_in(rows["doctor_id"], ids)
    known = codes >= 0
    return rows["trx"][known].groupby(codes[known]).sum().reindex(range(len(ids)), fill_value=0.0).to_numpy()
