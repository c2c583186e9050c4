"""Segmentation and targeting features: grading indicators, deciles, behaviour, call plan KPIs.

Every function is pure: contract tables (or tables built here) in, a new DataFrame or
Series out. Learned pieces (percentile references of the grading score, clusters) live
in :mod:`crmlab.models.segmentation`.

Conventions used throughout:

* A *month* is the first day of the month; periods are the last ``n`` months of the
  data (the latest month found in prescriptions, sales or visits).
* Volumes are **monthly means** over the period, so periods of different lengths compare.
* Own products are the non-competitor products in ``products`` (all products when the
  table says nothing).
* Grades are the strings ``"A"``–``"D"``; a grade's monthly visit *quota* comes from a
  ``{"A": 4, "B": 2, ...}`` mapping, and *target doctors* are those whose grade has a
  quota above zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from crmlab.features.panels import month_start

GRADES = ("A", "B", "C", "D")
INDICATORS = ("tier", "title", "outpatients", "beds", "volume")
DEFAULT_TIER_POINTS = {"3A": 100, "3B": 80, "2A": 60, "2B": 40, "1": 20, "other": 10}
DEFAULT_TITLE_POINTS = {"chief": 100, "associate_chief": 75, "attending": 50, "resident": 25,
                        "other": 25}
DEFAULT_CHANNEL_POINTS = {"face_to_face": 1.0, "remote": 0.6, "phone": 0.3, "messaging": 0.2,
                          "email": 0.1, "other": 0.2}
DEFAULT_QUALITY_WEIGHTS = {"channel": 0.4, "duration": 0.3, "product": 0.2, "status": 0.1}
QUADRANTS = {("high", "low"): "Win", ("high", "high"): "Defend",
             ("low", "low"): "Grow", ("low", "high"): "Maintain"}

# What each part of the analysis needs: every group must have one non-empty table.
# Many markets have account sales only (no field force, no doctor-level data): the
# account parts run there, the doctor and call-plan parts say what they miss.
PART_NEEDS = {
    "account_segments": (("sales", "prescriptions"),),
    "account_deciles": (("sales",),),
    "doctor_grading": (("doctors",),),
    "value_estimate": (("doctors",), ("sales",)),
    "value_check": (("doctors",), ("sales",), ("prescriptions",)),
    "doctor_deciles": (("doctors",), ("prescriptions", "sales")),
    "clusters": (("doctors",), ("visits", "prescriptions")),
    "call_plan": (("doctors",), ("reps",), ("visits",)),
    "funnel": (("doctors",), ("reps",), ("visits",)),
    "explorer": (("doctors",),),
}
PART_LABELS = {
    "account_segments": "Account potential × adoption",
    "account_deciles": "Account sell-out deciles per product",
    "doctor_grading": "Doctor grading",
    "value_estimate": "Value estimate per doctor",
    "value_check": "Check of the value estimate against prescriptions",
    "doctor_deciles": "Doctor deciles",
    "clusters": "Behavioural clusters of doctors",
    "call_plan": "Call plan and SFE KPIs",
    "funnel": "Adoption funnel",
    "explorer": "Manager explorer",
}


# ---------------------------------------------------------------------------- helpers
def _require(table: pd.DataFrame | None, name: str, columns: Iterable[str], what: str) -> None:
    """Raise a ValueError naming the table and the missing columns."""
    if table is None:
        raise ValueError(f"{what} needs the '{name}' table; add {name}.csv (or .parquet) "
                         "to the data directory")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what}: table '{name}' lacks column(s) {', '.join(missing)}")


def _numeric(values: pd.Series) -> np.ndarray:
    """Float array with NaN for missing values (handles nullable Int64 and strings)."""
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _text(values: pd.Series) -> pd.Series:
    """Object strings with None for missing, so string[pyarrow] and object behave alike."""
    return values.astype(object).where(values.notna(), None)


def _rows(tables, name: str) -> int:
    """Rows of table ``name`` in a Dataset or dict of tables (0 when absent)."""
    try:
        table = tables[name]
    except (KeyError, TypeError):
        return 0
    return 0 if table is None else len(table)


def segmentation_parts(tables) -> pd.DataFrame:
    """Which parts of the segmentation the data supports, and what the others need.

    Parameters
    ----------
    tables : Dataset or dict of DataFrame
        Anything indexable by table name (``ds["visits"]``); a missing key, None or an
        empty table counts as absent.

    Returns
    -------
    DataFrame indexed by ``part``
        ``label``, ``available`` (bool) and ``needs`` (what is missing, e.g.
        ``"doctors, visits"``; ``"a or b"`` when either would do; empty when available).

    Examples
    --------
    >>> tables = {"accounts": pd.DataFrame({"account_id": ["A1"]}), "sales": pd.DataFrame({"units": [1.0]})}
    >>> parts = segmentation_parts(tables)
    >>> bool(parts.loc["account_segments", "available"]), parts.loc["call_plan", "needs"]
    (True, 'doctors, reps, visits')
    """
    rows = []
    for part, groups in PART_NEEDS.items():
        missing = [" or ".join(group) for group in groups if not any(_rows(tables, t) for t in group)]
        rows.append({"part": part, "label": PART_LABELS[part], "available": not missing,
                     "needs": ", ".join(missing)})
    return pd.DataFrame(rows).set_index("part")


def own_product_ids(products: pd.DataFrame | None) -> list[str] | None:
    """IDs of the own (non-competitor) products, or None when ``products`` is empty.

    Examples
    --------
    >>> own_product_ids(pd.DataFrame({"product_id": ["P1", "C1"], "is_competitor": [False, True]}))
    ['P1']
    """
    if products is None or not len(products):
        return None
    competitor = products.get("is_competitor", pd.Series(False, index=products.index))
    competitor = competitor.astype("boolean").fillna(False).to_numpy(bool)
    return [str(p) for p in products.loc[~competitor, "product_id"]]


def category_product_ids(products: pd.DataFrame | None) -> list[str] | None:
    """Own products plus competitors in the own products' therapeutic areas.

    Examples
    --------
    >>> products = pd.DataFrame({"product_id": ["P1", "C1", "X"], "is_competitor": [False, True, True],
    ...     "therapeutic_area": ["cv", "cv", "onc"]})
    >>> category_product_ids(products)
    ['P1', 'C1']
    """
    own = own_product_ids(products)
    if own is None or "therapeutic_area" not in products:
        return own
    areas = set(products.loc[products["product_id"].isin(own), "therapeutic_area"].dropna())
    keep = products["product_id"].isin(own) | products["therapeutic_area"].isin(areas)
    return [str(p) for p in products.loc[keep, "product_id"]]


def last_month(*columns: pd.Series | None) -> pd.Timestamp:
    """The latest month found in the given date columns.

    Examples
    --------
    >>> last_month(pd.Series(pd.to_datetime(["2025-03-14", "2024-01-02"]))).date()
    datetime.date(2025, 3, 1)
    """
    found = [c.dropna().max() for c in columns if c is not None and c.notna().any()]
    if not found:
        raise ValueError("no dates found to anchor the analysis period on")
    return pd.Timestamp(max(found)).to_period("M").to_timestamp()


def period_months(end: pd.Timestamp, months: int, lag: int = 0) -> pd.DatetimeIndex:
    """The ``months`` months ending ``lag`` months before ``end`` (both month starts).

    Examples
    --------
    >>> [m.strftime("%Y-%m") for m in period_months(pd.Timestamp("2025-03-01"), 2, lag=1)]
    ['2025-01', '2025-02']
    """
    last = pd.Timestamp(end) - pd.DateOffset(months=lag)
    return pd.date_range(last - pd.DateOffset(months=months - 1), last, freq="MS")


# ---------------------------------------------------------------------------- volumes
def _monthly_mean_by_product(table: pd.DataFrame, month: pd.Series, key: str, value: str,
                             months: pd.DatetimeIndex, product_ids: Iterable[str] | None) -> pd.DataFrame:
    """Sum ``value`` per ``key`` × product over ``months``, divided by the number of months (wide)."""
    keep = month.isin(months)
    if product_ids is not None:
        keep &= table["product_id"].isin(list(product_ids))
    inside = table[keep]
    wide = (inside.assign(**{key: _text(inside[key]), "product_id": _text(inside["product_id"])})
            .groupby([key, "product_id"])[value].sum().unstack("product_id", fill_value=0.0))
    wide.columns.name = None
    wide.index.name = key
    return wide / len(months)


def doctor_product_volume(prescriptions: pd.DataFrame, months: pd.DatetimeIndex,
                          product_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Monthly mean ``trx`` per doctor and product over ``months`` (wide: one column per product).

    Examples
    --------
    >>> rx = pd.DataFrame({"doctor_id": ["D1", "D1"], "product_id": ["P1", "P1"],
    ...     "month": pd.to_datetime(["2025-01-01", "2025-02-01"]), "trx": [2.0, 4.0]})
    >>> doctor_product_volume(rx, pd.date_range("2025-01-01", periods=2, freq="MS")).to_dict()
    {'P1': {'D1': 3.0}}
    """
    _require(prescriptions, "prescriptions", ["doctor_id", "product_id", "month", "trx"], "volumes")
    return _monthly_mean_by_product(prescriptions, prescriptions["month"], "doctor_id", "trx",
                                    months, product_ids)


def account_sell_out(sales: pd.DataFrame, months: pd.DatetimeIndex,
                     product_ids: Iterable[str] | None = None) -> pd.Series:
    """Monthly mean net sell-out (returns netted) per account over ``months``.

    Examples
    --------
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-03", "2025-02-20"]),
    ...     "account_id": ["A1", "A1"], "product_id": ["P1", "P1"], "units": [10.0, -2.0]})
    >>> account_sell_out(sales, pd.date_range("2025-01-01", periods=2, freq="MS")).to_dict()
    {'A1': 4.0}
    """
    _require(sales, "sales", ["date", "account_id", "product_id", "units"], "account sell-out")
    inside = sales[month_start(sales["date"]).isin(months)]
    if product_ids is not None:
        inside = inside[inside["product_id"].isin(list(product_ids))]
    total = inside.groupby(_text(inside["account_id"]))["units"].sum() / len(months)
    total.index.name = "account_id"
    return total.rename("sell_out")


def recent_sell_out(sales: pd.DataFrame, *, months: int = 12, lag: int = 0,
                    products: pd.DataFrame | None = None) -> pd.Series:
    """Monthly mean own-product sell-out per account over the last ``months`` months of sales.

    The window ends ``lag`` months before the latest sales month (``lag=months`` gives
    the period before, for migration).

    Examples
    --------
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-03", "2025-02-20"]),
    ...     "account_id": ["A1", "A1"], "product_id": ["P1", "P1"], "units": [10.0, 4.0]})
    >>> recent_sell_out(sales, months=1).to_dict(), recent_sell_out(sales, months=1, lag=1).to_dict()
    ({'A1': 4.0}, {'A1': 10.0})
    """
    _require(sales, "sales", ["date", "account_id", "product_id", "units"], "account sell-out")
    if not len(sales):
        raise ValueError("account sell-out: the 'sales' table is empty")
    period = period_months(last_month(sales["date"]), months, lag=lag)
    return account_sell_out(sales, period, own_product_ids(products))


def account_product_sell_out(sales: pd.DataFrame, months: pd.DatetimeIndex,
                             product_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Monthly mean net sell-out per account and product over ``months`` (wide: one column per product).

    Examples
    --------
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-03", "2025-01-20"]),
    ...     "account_id": ["A1", "A2"], "product_id": ["P1", "P2"], "units": [10.0, 4.0]})
    >>> account_product_sell_out(sales, pd.date_range("2025-01-01", periods=1, freq="MS")).to_dict()
    {'P1': {'A1': 10.0, 'A2': 0.0}, 'P2': {'A1': 0.0, 'A2': 4.0}}
    """
    _require(sales, "sales", ["date", "account_id", "product_id", "units"], "account sell-out")
    return _monthly_mean_by_product(sales, month_start(sales["date"]), "account_id", "units",
                                    months, product_ids)


def account_deciles(sales: pd.DataFrame, *, accounts: pd.DataFrame | None = None,
                    products: pd.DataFrame | None = None, months: int = 12, lag: int = 0) -> pd.DataFrame:
    """Sell-out deciles per account: ``decile`` on own products and ``decile_<product>`` per product.

    Volumes are monthly mean net sell-out over ``months`` months ending ``lag`` months
    before the latest sales month; accounts of ``accounts`` without sales are decile 0.
    Needs only account-level sales.

    Examples
    --------
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-03", "2025-01-20"]),
    ...     "account_id": ["A1", "A2"], "product_id": ["P1", "P1"], "units": [10.0, 4.0]})
    >>> account_deciles(sales, months=1)[["decile", "decile_P1"]].to_dict("list")
    {'decile': [10, 5], 'decile_P1': [10, 5]}
    """
    _require(sales, "sales", ["date", "account_id", "product_id", "units"], "account deciles")
    if not len(sales):
        raise ValueError("account deciles need sell-out: the 'sales' table is empty")
    period = period_months(last_month(sales["date"]), months, lag=lag)
    volume = account_product_sell_out(sales, period)
    if accounts is not None and len(accounts):
        volume = volume.reindex(_text(accounts["account_id"]).to_numpy(), fill_value=0.0)
        volume.index.name = "account_id"
    own = own_product_ids(products)
    own_cols = [c for c in volume.columns if own is None or c in own]
    out = decile_table(volume).add_prefix("decile_")
    out.insert(0, "decile", volume_deciles(volume[own_cols].sum(axis=1)))
    return out


# ---------------------------------------------------------------------------- grading
def doctor_indicators(doctors: pd.DataFrame, accounts: pd.DataFrame,
                      prescriptions: pd.DataFrame | None = None, *,
                      products: pd.DataFrame | None = None, volume_months: int = 12) -> pd.DataFrame:
    """One row per doctor with the raw grading indicators and where the doctor sits.

    Parameters
    ----------
    doctors, accounts, prescriptions, products : DataFrame
        Contract tables; ``prescriptions`` may be None or empty (then ``volume`` is NaN).
    volume_months : int
        ``volume`` is the monthly mean of own-product ``trx`` over the last
        ``volume_months`` months of the prescriptions.

    Returns
    -------
    DataFrame
        ``doctor_id, account_id, region, territory_id, account_type, specialty, title,
        tier, outpatients, beds, volume``. ``outpatients``/``beds`` are the department's;
        ``tier`` is the account's (``"other"`` when missing). No personal fields.

    Examples
    --------
    >>> doctors = pd.DataFrame({"doctor_id": ["D1"], "account_id": ["A1"], "specialty": ["cardiology"],
    ...     "title": ["chief"], "department_beds": [40], "department_outpatients": [900]})
    >>> accounts = pd.DataFrame({"account_id": ["A1"], "account_type": ["hospital"], "tier": ["3A"],
    ...     "region": ["North"], "territory_id": ["T1"]})
    >>> doctor_indicators(doctors, accounts)[["tier", "title", "outpatients", "beds"]].to_dict("records")
    [{'tier': '3A', 'title': 'chief', 'outpatients': 900.0, 'beds': 40.0}]
    """
    _require(doctors, "doctors", ["doctor_id", "account_id", "specialty"], "doctor grading")
    _require(accounts, "accounts", ["account_id", "region", "territory_id"], "doctor grading")
    account = accounts.assign(account_id=_text(accounts["account_id"])).set_index("account_id")
    account_id = _text(doctors["account_id"])
    out = pd.DataFrame({"doctor_id": _text(doctors["doctor_id"]).to_numpy(),
                        "account_id": account_id.to_numpy()})
    for column in ("region", "territory_id", "account_type"):
        source = account[column] if column in account else pd.Series(dtype=object)
        out[column] = _text(account_id.map(source)).to_numpy()
    out["specialty"] = _text(doctors["specialty"]).to_numpy()
    title = doctors["title"] if "title" in doctors else pd.Series(None, index=doctors.index)
    out["title"] = _text(title).fillna("other").to_numpy()
    tier = account_id.map(account["tier"]) if "tier" in account else pd.Series(None, index=doctors.index)
    out["tier"] = _text(tier).fillna("other").to_numpy()
    for column, source in (("outpatients", "department_outpatients"), ("beds", "department_beds")):
        out[column] = _numeric(doctors[source]) if source in doctors else np.nan
    out["volume"] = np.nan
    if prescriptions is not None and len(prescriptions):
        months = period_months(last_month(prescriptions["month"]), volume_months)
        volume = doctor_product_volume(prescriptions, months, own_product_ids(products)).sum(axis=1)
        out["volume"] = out["doctor_id"].map(volume).fillna(0.0).to_numpy(float)
    return out


def percentile_points(values: np.ndarray | pd.Series, reference: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0–100) of each value within the sorted ``reference``; NaN stays NaN.

    Ties share the middle of their ranks, so a mass of zero volumes does not score 0 or 100.

    Examples
    --------
    >>> percentile_points(np.array([1.0, 3.0, np.nan]), np.array([1.0, 2.0, 3.0, 4.0])).tolist()
    [12.5, 62.5, nan]
    """
    values = np.asarray(values, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if not len(reference):
        return np.full(len(values), np.nan)
    below = np.searchsorted(reference, values, side="left")
    up_to = np.searchsorted(reference, values, side="right")
    points = 100.0 * (below + up_to) / (2.0 * len(reference))
    return np.where(np.isnan(values), np.nan, points)


def table_points(values: pd.Series, points: Mapping[str, float]) -> np.ndarray:
    """Points from a lookup table; values not in the table take ``points["other"]`` (or 0).

    Examples
    --------
    >>> table_points(pd.Series(["3A", "9Z"]), {"3A": 100, "other": 10}).tolist()
    [100.0, 10.0]
    """
    fallback = float(points.get("other", 0.0))
    return _text(values).map({str(k): float(v) for k, v in points.items()}).astype(float) \
        .fillna(fallback).to_numpy()


def weighted_score(points: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of indicator points, renormalised over the indicators a doctor has.

    A doctor missing an indicator (NaN points) is scored on the others, so a missing
    department size neither rewards nor punishes.

    Examples
    --------
    >>> points = pd.DataFrame({"tier": [100.0, 100.0], "title": [50.0, np.nan]})
    >>> weighted_score(points, {"tier": 0.5, "title": 0.5}).tolist()
    [75.0, 100.0]
    """
    used = [k for k, w in weights.items() if w and k in points]
    if not used:
        raise ValueError("grading weights are all zero (or name no known indicator: "
                         f"{', '.join(INDICATORS)})")
    if any(weights[k] < 0 for k in used):
        raise ValueError(f"grading weights must be >= 0, got {dict(weights)}")
    p = points[used].to_numpy(float)
    w = np.array([float(weights[k]) for k in used])
    present = ~np.isnan(p)
    total = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(p * w, axis=1) / total, np.nan)


def assign_grades(score: np.ndarray | pd.Series, thresholds: Mapping[str, float]) -> np.ndarray:
    """Grades from score thresholds: A if score ≥ ``thresholds["A"]``, then B, C, else D.

    Examples
    --------
    >>> assign_grades(np.array([80.0, 55.0, 31.0, 5.0]), {"A": 70, "B": 50, "C": 30}).tolist()
    ['A', 'B', 'C', 'D']
    """
    a, b, c = (float(thresholds[g]) for g in ("A", "B", "C"))
    if not a >= b >= c:
        raise ValueError(f"grade thresholds must satisfy A >= B >= C, got A={a}, B={b}, C={c}")
    score = np.asarray(score, dtype=float)
    return np.select([score >= a, score >= b, score >= c], ["A", "B", "C"], "D").astype(object)


# ---------------------------------------------------------------------------- deciles
def volume_deciles(volume: pd.Series) -> pd.Series:
    """Decile 1–10 by rank of positive volume (10 = highest); zero or missing volume is 0.

    Deciles here hold equal numbers of prescribing doctors (count deciles).

    Examples
    --------
    >>> volume_deciles(pd.Series([0.0, 1.0, 2.0, 3.0, 4.0])).tolist()
    [0, 3, 5, 8, 10]
    """
    volume = pd.Series(volume, dtype=float)
    positive = volume > 0
    rank = volume[positive].rank(method="first", pct=True)
    deciles = pd.Series(0, index=volume.index, dtype=int)
    deciles[positive] = np.ceil(rank * 10).clip(1, 10).astype(int)
    return deciles.rename("decile")


def decile_table(volumes: pd.DataFrame) -> pd.DataFrame:
    """Deciles per product column of a wide volume table (see :func:`doctor_product_volume`).

    Examples
    --------
    >>> decile_table(pd.DataFrame({"P1": [0.0, 5.0]}, index=["D1", "D2"])).to_dict()
    {'P1': {'D1': 0, 'D2': 10}}
    """
    return volumes.apply(volume_deciles)


def decile_migration(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """Doctors counted by decile in the earlier period (rows) and the later one (columns).

    Doctors missing in one period count as decile 0 there.

    Examples
    --------
    >>> decile_migration(pd.Series({"D1": 1, "D2": 10}), pd.Series({"D1": 2})).loc[10, 0]
    np.int64(1)
    """
    index = before.index.union(after.index)
    table = pd.crosstab(before.reindex(index, fill_value=0).rename("decile_before"),
                        after.reindex(index, fill_value=0).rename("decile_after"))
    levels = range(0, 11)
    return table.reindex(index=levels, columns=levels, fill_value=0)


# ---------------------------------------------------------------------------- value
def apportion_account_value(doctor_weight: pd.DataFrame, account_value: pd.Series) -> pd.Series:
    """Split each account's value (e.g. monthly sell-out) across its doctors by weight.

    ``value_i = account_value[a] * weight_i / sum_{j in a} weight_j``; an account whose
    weights are all zero splits equally. Doctors of accounts without a value get 0.

    Parameters
    ----------
    doctor_weight : DataFrame
        ``doctor_id, account_id, weight`` (weight ≥ 0).
    account_value : Series
        Indexed by ``account_id``.

    Examples
    --------
    >>> w = pd.DataFrame({"doctor_id": ["D1", "D2"], "account_id": ["A1", "A1"], "weight": [3.0, 1.0]})
    >>> apportion_account_value(w, pd.Series({"A1": 8.0})).tolist()
    [6.0, 2.0]
    """
    weight = pd.Series(np.clip(_numeric(doctor_weight["weight"]), 0, None), index=doctor_weight.index)
    weight = weight.fillna(0.0)
    account = _text(doctor_weight["account_id"])
    total = weight.groupby(account).transform("sum")
    count = weight.groupby(account).transform("size")
    share = np.where(total > 0, weight / total.where(total > 0, 1.0), 1.0 / count)
    value = account.map(account_value).astype(float).fillna(0.0).to_numpy()
    return pd.Series(value * share, index=_text(doctor_weight["doctor_id"]).to_numpy(), name="value_estimate")


# ---------------------------------------------------------------------------- accounts
def account_potential_adoption(accounts: pd.DataFrame, *, doctors: pd.DataFrame | None = None,
                               prescriptions: pd.DataFrame | None = None,
                               sales: pd.DataFrame | None = None,
                               products: pd.DataFrame | None = None, months: int = 12) -> pd.DataFrame:
    """Potential and adoption per account, the inputs of the potential × adoption matrix.

    * ``category_volume`` — monthly prescriptions of the category (own products and
      competitors in the same therapeutic areas) written by the account's doctors.
    * ``potential`` — ``category_volume`` where observed; elsewhere (pharmacies, no
      doctor-level data) predicted from size by a log-log fit of category volume on
      ``annual_outpatients`` (or, without any category volume, own sell-out
      predicted from size the same way).
    * ``own_volume`` — monthly own-product sell-out (``sales``), else own ``trx``.
    * ``adoption`` — ``own_volume / potential`` (the own share where potential is the
      category volume).

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "region": ["N", "N"],
    ...     "territory_id": ["T1", "T1"], "annual_outpatients": [1000, 4000]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-05", "2025-01-09"]),
    ...     "account_id": ["A1", "A2"], "product_id": ["P1", "P1"], "units": [10.0, 10.0]})
    >>> account_potential_adoption(accounts, sales=sales, months=1)["adoption"].round(2).tolist()
    [2.5, 0.62]
    """
    _require(accounts, "accounts", ["account_id", "region", "territory_id"], "account segments")
    has_rx = prescriptions is not None and len(prescriptions) and doctors is not None and len(doctors)
    has_sales = sales is not None and len(sales)
    if not has_rx and not has_sales:
        raise ValueError("account segments need 'sales' or 'prescriptions' (with 'doctors'); "
                         "both are missing or empty")
    ids = _text(accounts["account_id"])
    out = pd.DataFrame({"account_id": ids.to_numpy(), "region": _text(accounts["region"]).to_numpy(),
                        "territory_id": _text(accounts["territory_id"]).to_numpy()})
    out["account_type"] = _text(accounts["account_type"]).to_numpy() if "account_type" in accounts else None
    size = _numeric(accounts["annual_outpatients"]) if "annual_outpatients" in accounts else np.full(len(out), np.nan)
    anchors = [prescriptions["month"] if has_rx else None, sales["date"] if has_sales else None]
    period = period_months(last_month(*anchors), months)
    own = own_product_ids(products)
    out["category_volume"] = np.nan
    own_trx = None
    if has_rx:
        account_of = pd.Series(_text(doctors["account_id"]).to_numpy(), index=_text(doctors["doctor_id"]).to_numpy())
        volume = doctor_product_volume(prescriptions, period, category_product_ids(products))
        by_account = volume.groupby(volume.index.map(account_of)).sum()
        observed = set(account_of.unique())
        category = by_account.sum(axis=1)
        out["category_volume"] = np.where(ids.isin(observed), ids.map(category).fillna(0.0), np.nan)
        own_cols = [c for c in by_account.columns if own is None or c in own]
        own_trx = by_account[own_cols].sum(axis=1)
    if has_sales:
        out["own_volume"] = ids.map(account_sell_out(sales, period, own)).fillna(0.0).to_numpy()
    else:
        out["own_volume"] = ids.map(own_trx).fillna(0.0).to_numpy()
    out["size"] = size
    anchor = out["category_volume"] if out["category_volume"].notna().any() else out["own_volume"]
    fitted = _size_fit(size, anchor.to_numpy(float))
    use_category = out["category_volume"].notna().any()
    out["potential"] = np.where(use_category & out["category_volume"].notna(), out["category_volume"], fitted)
    out["potential_source"] = np.where(use_category & out["category_volume"].notna(), "category_volume", "size")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["adoption"] = np.where(out["potential"] > 0, out["own_volume"] / out["potential"], np.nan)
    return out


def _size_fit(size: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """Volume predicted from size by least squares on logs (accounts with both observed)."""
    ok = (size > 0) & (volume > 0) & np.isfinite(size) & np.isfinite(volume)
    if ok.sum() < 3:
        # too few points for a slope: assume volume proportional to size
        ratio = np.nansum(volume[ok]) / max(np.nansum(size[ok]), 1.0) if ok.any() else np.nan
        return size * ratio
    slope, intercept = np.polyfit(np.log(size[ok]), np.log(volume[ok]), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(size > 0, np.exp(intercept + slope * np.log(size)), np.nan)


def potential_adoption_quadrants(table: pd.DataFrame, *, potential_split: float = 0.5,
                                 adoption_split: float = 0.5,
                                 labels: Mapping[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """Add ``potential_level``, ``adoption_level`` and ``quadrant`` (Win/Defend/Grow/Maintain).

    Cut points are quantiles of potential and adoption over the accounts given:
    high potential & low adoption = **Win** (largest gain), high & high = **Defend**,
    low & low = **Grow** (cheap gains), low & high = **Maintain**.

    Examples
    --------
    >>> t = pd.DataFrame({"potential": [1.0, 9.0, 1.0, 9.0], "adoption": [0.1, 0.1, 0.9, 0.9]})
    >>> potential_adoption_quadrants(t)["quadrant"].tolist()
    ['Grow', 'Win', 'Maintain', 'Defend']
    """
    labels = dict(QUADRANTS if labels is None else labels)
    out = table.copy()
    p_cut = out["potential"].quantile(potential_split)
    a_cut = out["adoption"].quantile(adoption_split)
    out["potential_cut"] = p_cut
    out["adoption_cut"] = a_cut
    out["potential_level"] = np.where(out["potential"] > p_cut, "high", "low")
    out["adoption_level"] = np.where(out["adoption"] > a_cut, "high", "low")
    out["quadrant"] = [labels[(p, a)] for p, a in zip(out["potential_level"], out["adoption_level"])]
    out.loc[out["potential"].isna() | out["adoption"].isna(), "quadrant"] = "unknown"
    return out


def account_segments(accounts: pd.DataFrame, *, doctors: pd.DataFrame | None = None,
                     prescriptions: pd.DataFrame | None = None, sales: pd.DataFrame | None = None,
                     products: pd.DataFrame | None = None, months: int = 12, potential_split: float = 0.5,
                     adoption_split: float = 0.5) -> pd.DataFrame:
    """Potential × adoption quadrants plus an own-volume ``decile`` per account.

    :func:`account_potential_adoption`, then :func:`potential_adoption_quadrants`; empty
    ``doctors``/``prescriptions`` are fine (sales-only markets: potential from size).

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "region": ["N", "N"],
    ...     "territory_id": ["T1", "T1"], "annual_outpatients": [1000, 4000]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-05", "2025-01-09"]),
    ...     "account_id": ["A1", "A2"], "product_id": ["P1", "P1"], "units": [10.0, 10.0]})
    >>> account_segments(accounts, sales=sales, months=1)[["quadrant", "decile"]].values.tolist()
    [['Maintain', 5], ['Win', 10]]
    """
    table = account_potential_adoption(accounts, doctors=doctors, prescriptions=prescriptions, sales=sales,
                                       products=products, months=months)
    out = potential_adoption_quadrants(table, potential_split=potential_split, adoption_split=adoption_split)
    out["decile"] = volume_deciles(out["own_volume"]).to_numpy()
    return out


# ---------------------------------------------------------------------------- behaviour
def doctor_behaviour(panel: pd.DataFrame, *, months: int = 12) -> pd.DataFrame:
    """Behavioural features per doctor from a :func:`doctor_month_panel` (last ``months``).

    Returns
    -------
    DataFrame indexed by ``doctor_id``
        ``volume`` — log(1 + monthly mean trx); ``trend`` — (second half − first half)
        of the window over the doctor's mean + 1; ``visit_frequency`` — completed
        visits per month; ``responsiveness`` — within-doctor correlation of last month's
        visits with this month's trx (0 when either is constant); ``events`` — events
        attended (whole history); ``remote_share`` — share of completed visits not face
        to face. Without prescriptions the trx-based columns are dropped.

    Examples
    --------
    >>> panel = pd.DataFrame({"doctor_id": ["D1"] * 4, "month": pd.date_range("2025-01-01", periods=4, freq="MS"),
    ...     "trx": [1.0, 2.0, 3.0, 4.0], "visits": [1.0, 1.0, 0.0, 2.0], "visits_face_to_face": [1.0, 1.0, 0.0, 1.0],
    ...     "events_attended": [0.0, 1.0, 0.0, 0.0]})
    >>> doctor_behaviour(panel, months=4).loc["D1", ["trend", "visit_frequency", "remote_share"]].round(3).tolist()
    [0.571, 1.0, 0.25]
    """
    doctor_ids = pd.Index(panel["doctor_id"].drop_duplicates())
    n = len(doctor_ids)
    n_m = len(panel) // max(n, 1)
    if n * n_m != len(panel):
        raise ValueError("doctor_behaviour needs a complete doctor × month panel (see doctor_month_panel)")

    def wide(column):
        return panel[column].to_numpy(float).reshape(n, n_m)

    k = min(months, n_m)
    trx, visits = wide("trx")[:, -k:], wide("visits")[:, -k:]
    out = pd.DataFrame(index=pd.Index(_text(pd.Series(doctor_ids)).to_numpy(), name="doctor_id"))
    if trx.any():
        mean = trx.mean(axis=1)
        half = k // 2
        out["volume"] = np.log1p(mean)
        out["trend"] = (trx[:, k - half:].mean(axis=1) - trx[:, :half].mean(axis=1)) / (mean + 1.0)
        out["responsiveness"] = _row_correlation(wide("visits")[:, -k - 1:-1] if n_m > k else visits[:, :-1],
                                                 trx if n_m > k else trx[:, 1:])
    out["visit_frequency"] = visits.mean(axis=1)
    out["events"] = wide("events_attended").sum(axis=1)
    total = visits.sum(axis=1)
    face = wide("visits_face_to_face")[:, -k:].sum(axis=1)
    out["remote_share"] = np.where(total > 0, 1 - face / np.where(total > 0, total, 1), 0.0)
    return out


def _row_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x ** 2).sum(axis=1) * (y ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (x * y).sum(axis=1) / np.where(denominator > 0, denominator, 1), 0.0)


# ---------------------------------------------------------------------------- call plan
def _completed(visits: pd.DataFrame) -> pd.DataFrame:
    status = visits["status"] if "status" in visits else pd.Series("completed", index=visits.index)
    return visits[_text(status).fillna("completed").to_numpy() == "completed"]


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
    _require(reps, "reps", ["rep_id", "territory_id"], "call plan")
    n_m = len(months)
    base = pd.DataFrame({
        "rep_id": np.repeat(_text(reps["rep_id"]).to_numpy(), n_m),
        "territory_id": np.repeat(_text(reps["territory_id"]).to_numpy(), n_m),
        "manager_id": np.repeat((_text(reps["manager_id"]) if "manager_id" in reps
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
    _require(visits, "visits", ["date", "rep_id", "doctor_id"], "call plan")
    _require(doctor_grades, "doctor grades", ["doctor_id", "territory_id", "grade"], "call plan")
    completed = _completed(visits)
    visit_month = month_start(completed["date"])
    if months is None:
        if not len(completed):
            raise ValueError("call plan: the 'visits' table has no completed visits")
        months = pd.date_range(visit_month.min(), visit_month.max(), freq="MS")
    grades = pd.DataFrame({"doctor_id": _text(doctor_grades["doctor_id"]).to_numpy(),
                           "territory_id": _text(doctor_grades["territory_id"]).to_numpy(),
                           "grade": _text(doctor_grades["grade"]).to_numpy()})
    counts = grades.groupby(["territory_id", "grade"]).size().rename("doctors").reset_index()
    plan = rep_months(reps, months).merge(counts, on="territory_id", how="inner")
    plan["planned"] = plan["doctors"] * plan["grade"].map({str(k): float(v) for k, v in quota.items()}).fillna(0.0)

    seen = pd.DataFrame({"rep_id": _text(completed["rep_id"]).to_numpy(),
                         "doctor_id": _text(completed["doctor_id"]).to_numpy(),
                         "month": visit_month.to_numpy()})
    seen = seen[seen["month"].isin(months)].merge(grades, on="doctor_id", how="inner")
    # only visits to the rep's own territory count towards its plan
    territory = pd.Series(_text(reps["territory_id"]).to_numpy(), index=_text(reps["rep_id"]).to_numpy())
    seen = seen[seen["territory_id"].to_numpy() == seen["rep_id"].map(territory).to_numpy()]
    actual = seen.groupby(["rep_id", "month", "grade"]).agg(
        actual=("doctor_id", "size"), reached=("doctor_id", "nunique")).reset_index()
    out = plan.merge(actual, on=["rep_id", "month", "grade"], how="left")
    out[["actual", "reached"]] = out[["actual", "reached"]].fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["compliance"] = np.where(out["planned"] > 0, out["actual"] / out["planned"].where(out["planned"] > 0, 1),
                                     np.nan)
    columns = ["rep_id", "manager_id", "territory_id", "month", "grade", "doctors", "planned", "actual",
               "compliance", "reached"]
    return out[columns].sort_values(["rep_id", "month", "grade"], kind="stable").reset_index(drop=True)


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
    completed = _completed(visits)
    as_of = pd.Timestamp(completed["date"].max() if as_of is None else as_of)
    last = completed[completed["date"] <= as_of].groupby(_text(completed["doctor_id"]))["date"].max()
    target = doctor_grades[doctor_grades["grade"].isin(list(grades))].copy()
    target["doctor_id"] = _text(target["doctor_id"]).to_numpy()
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
    completed = _completed(visits)
    if doctor_grades is not None:
        target = doctor_grades[doctor_grades["grade"].isin(targets)]
        territory_of = pd.Series(_text(target["territory_id"]).to_numpy(), index=_text(target["doctor_id"]).to_numpy())
        rep_territory = compliance.drop_duplicates("rep_id").set_index("rep_id")["territory_id"]
        doctor_territory = _text(completed["doctor_id"]).map(territory_of)
        completed = completed[(doctor_territory.notna()
                               & (doctor_territory.to_numpy() == _text(completed["rep_id"]).map(rep_territory)
                                  .to_numpy())).to_numpy()]
    week = (completed["date"] - pd.to_timedelta(completed["date"].dt.weekday, unit="D")).dt.normalize()
    actual = completed.assign(rep_id=_text(completed["rep_id"]), week=week).groupby(["rep_id", "week"]).size()
    actual = actual.rename("actual").reset_index()
    actual["month"] = month_start(actual["week"])
    actual = actual.merge(plan.reset_index(), on=["rep_id", "month"], how="inner")
    actual["planned"] = actual["planned"] * 7 / actual["month"].dt.days_in_month
    actual["compliance"] = np.where(actual["planned"] > 0, actual["actual"] / actual["planned"].where(
        actual["planned"] > 0, 1), np.nan)
    return actual[["rep_id", "week", "planned", "actual", "compliance"]].sort_values(
        ["rep_id", "week"], kind="stable").reset_index(drop=True)


def visit_quality(visits: pd.DataFrame, *, weights: Mapping[str, float] | None = None,
                  channel_points: Mapping[str, float] | None = None,
                  target_minutes: float = 15.0, product_ids: Iterable[str] | None = None) -> pd.Series:
    """Quality score 0–100 per visit from weighted visit fields.

    Components (each 0–1): ``channel`` (points by channel), ``duration``
    (``min(duration / target_minutes, 1)``; missing = 0), ``product`` (1 when a product —
    one of ``product_ids`` if given — is named), ``status`` (1 when completed). Score
    = 100 × weighted mean of the components with ``weights``.

    Examples
    --------
    >>> v = pd.DataFrame({"channel": ["face_to_face", "phone"], "duration_min": [15.0, 5.0],
    ...     "product_id": ["P1", None], "status": ["completed", "completed"]})
    >>> visit_quality(v, target_minutes=15).round(1).tolist()
    [100.0, 32.0]
    """
    weights = dict(DEFAULT_QUALITY_WEIGHTS if weights is None else weights)
    channel_points = dict(DEFAULT_CHANNEL_POINTS if channel_points is None else channel_points)
    unknown = set(weights) - set(DEFAULT_QUALITY_WEIGHTS)
    if unknown:
        raise ValueError(f"visit quality weights: unknown component(s) {sorted(unknown)}; "
                         f"use {sorted(DEFAULT_QUALITY_WEIGHTS)}")
    total = sum(float(w) for w in weights.values())
    if total <= 0:
        raise ValueError("visit quality weights must sum to more than 0")
    index = visits.index
    channel = _text(visits["channel"]) if "channel" in visits else pd.Series("face_to_face", index=index)
    channel = channel.fillna("face_to_face")
    status = _text(visits["status"]) if "status" in visits else pd.Series("completed", index=index)
    product = _text(visits["product_id"]) if "product_id" in visits else pd.Series(None, index=index)
    named = product.notna() & (product != "")
    if product_ids is not None:
        named &= product.isin(list(product_ids))
    duration = _numeric(visits["duration_min"]) if "duration_min" in visits else np.full(len(index), np.nan)
    parts = {
        "channel": table_points(channel, channel_points),
        "duration": np.nan_to_num(np.clip(duration / float(target_minutes), 0, 1)),
        "product": named.to_numpy(float),
        "status": (status.fillna("completed") == "completed").to_numpy(float),
    }
    score = sum(float(weights.get(k, 0.0)) * parts[k] for k in parts) / total
    return pd.Series(100 * score, index=index, name="quality")


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
    completed = _completed(visits)
    anchors = [month_start(completed["date"])]
    has_rx = prescriptions is not None and len(prescriptions)
    if has_rx:
        anchors.append(prescriptions["month"])
    end = last_month(*anchors) if end is None else pd.Timestamp(end)
    now, before = period_months(end, months), period_months(end, months, lag=months)
    targets = [str(g) for g, q in quota.items() if q > 0]
    grades = doctor_grades[doctor_grades["grade"].isin(targets)]
    doctor = pd.DataFrame({"doctor_id": _text(grades["doctor_id"]).to_numpy(),
                           "territory_id": _text(grades["territory_id"]).to_numpy()})
    seen = set(_text(completed.loc[month_start(completed["date"]).isin(now), "doctor_id"]))
    doctor["reached"] = doctor["doctor_id"].isin(seen)
    rows = []
    for product in product_ids:
        d = doctor.copy()
        d["product_id"] = product
        if has_rx:
            rx = prescriptions[prescriptions["product_id"] == product]
            recent = rx[rx["month"].isin(now)].groupby(_text(rx["doctor_id"]))["trx"].sum()
            earlier = rx[rx["month"].isin(before)].groupby(_text(rx["doctor_id"]))["trx"].sum()
            r = d["doctor_id"].map(recent).fillna(0.0)
            e = d["doctor_id"].map(earlier).fillna(0.0)
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


def doctor_deciles(prescriptions: pd.DataFrame | None, *, products: pd.DataFrame | None = None,
                   months: int = 12, lag: int = 0, fallback: pd.Series | None = None) -> pd.DataFrame:
    """Deciles per doctor: ``decile`` on own-product volume and ``decile_<product>`` per product.

    Volumes are monthly mean ``trx`` over ``months`` months ending ``lag`` months before
    the latest prescription month. Without prescriptions, ``decile`` ranks ``fallback``
    (e.g. the apportioned value estimate) and ``basis`` says so.

    Examples
    --------
    >>> rx = pd.DataFrame({"doctor_id": ["D1", "D2"], "product_id": ["P1", "P1"],
    ...     "month": pd.to_datetime(["2025-01-01"] * 2), "trx": [1.0, 9.0]})
    >>> doctor_deciles(rx, months=1)["decile"].to_dict()
    {'D1': 5, 'D2': 10}
    >>> doctor_deciles(None, fallback=pd.Series({"D1": 2.0}))[["decile", "basis"]].values.tolist()
    [[10, 'value_estimate']]
    """
    if prescriptions is None or not len(prescriptions):
        if fallback is None:
            raise ValueError("deciles need the 'prescriptions' table or a fallback volume "
                             "(the value estimate apportioned from account sales)")
        out = volume_deciles(fallback).to_frame()
        out["basis"] = "value_estimate"
        out.index.name = "doctor_id"
        return out
    period = period_months(last_month(prescriptions["month"]), months, lag=lag)
    volume = doctor_product_volume(prescriptions, period)
    own = own_product_ids(products)
    own_cols = [c for c in volume.columns if own is None or c in own]
    out = decile_table(volume).add_prefix("decile_")
    out.insert(0, "decile", volume_deciles(volume[own_cols].sum(axis=1)))
    out["basis"] = "prescriptions"
    return out


def quota_from_params(params: Mapping) -> dict[str, float]:
    """Monthly visit quota per grade from the flat ``quota_a`` … ``quota_d`` parameters.

    Examples
    --------
    >>> quota_from_params({"quota_a": 6})
    {'A': 6.0, 'B': 2.0, 'C': 1.0, 'D': 0.0}
    """
    defaults = {"A": 4, "B": 2, "C": 1, "D": 0}
    return {g: float(params.get(f"quota_{g.lower()}", defaults[g])) for g in GRADES}


def quality_from_params(params: Mapping) -> dict:
    """Keyword arguments of :func:`visit_quality` from the flat ``quality_*`` parameters.

    Examples
    --------
    >>> quality_from_params({"quality_weight_channel": 1.0})["weights"]["channel"]
    1.0
    """
    weights = {k: float(params.get(f"quality_weight_{k}", v)) for k, v in DEFAULT_QUALITY_WEIGHTS.items()}
    return {"weights": weights,
            "channel_points": dict(params.get("quality_channel_points") or DEFAULT_CHANNEL_POINTS),
            "target_minutes": float(params.get("quality_target_minutes", 15.0))}
