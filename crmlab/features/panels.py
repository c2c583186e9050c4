"""The shared panels: doctor × month, account × month, distributor × product × month.

Every builder is a pure function: contract tables in (as returned by
``crmlab.io.load``), a new DataFrame out; inputs are never modified. Panels are
complete grids — a doctor with no prescriptions in a month has a row with ``trx = 0``
— because analyses need the zeros (churn, within-doctor variation).

Sums are accumulated with integer codes and ``numpy.bincount`` so the national scale
(200,000 doctors × 36 months, tens of millions of rows in) stays within seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmlab.features.common import completed_visits, own_product_ids

CHANNELS = ("face_to_face", "remote", "phone", "email", "messaging", "other")


def month_start(dates: pd.Series) -> pd.Series:
    """The first day of each date's month (``2025-03-14`` → ``2025-03-01``).

    Examples
    --------
    >>> month_start(pd.Series(pd.to_datetime(["2025-03-14"]))).dt.strftime("%Y-%m-%d").tolist()
    ['2025-03-01']
    """
    return dates.dt.to_period("M").dt.to_timestamp()


def month_range(*columns: pd.Series) -> pd.DatetimeIndex:
    """All months from the earliest to the latest date found in ``columns``."""
    found = [c.dropna() for c in columns if c is not None and len(c.dropna())]
    if not found:
        raise ValueError("no dates to build a month range from")
    first = min(c.min() for c in found)
    last = max(c.max() for c in found)
    return pd.date_range(pd.Timestamp(first).to_period("M").to_timestamp(),
                         pd.Timestamp(last).to_period("M").to_timestamp(), freq="MS")


def visit_adstock(visits: np.ndarray | pd.DataFrame, decay: float, *, column: str = "visits",
                  by: str = "doctor_id") -> np.ndarray | pd.Series:
    """Carry-over stock of visits: ``A_t = v_t + decay * A_{t-1}``, starting at zero.

    Parameters
    ----------
    visits : ndarray of shape (n_units, n_months), or a long panel DataFrame
        Visits per unit and month. A DataFrame must be sorted by ``by`` then month and
        hold every month for every unit (as the panel builders return).
    decay : float in [0, 1)
        Share of last month's stock still working this month.

    Examples
    --------
    >>> visit_adstock(np.array([[1.0, 0.0, 2.0]]), decay=0.5).tolist()
    [[1.0, 0.5, 2.25]]
    """
    if not 0 <= decay < 1:
        raise ValueError(f"decay must be in [0, 1), got {decay}")
    if isinstance(visits, pd.DataFrame):
        sizes = visits.groupby(by, sort=False).size()
        if sizes.nunique() > 1:
            raise ValueError("visit_adstock needs a complete panel: every unit in every month")
        wide = visits[column].to_numpy(float).reshape(len(sizes), -1)
        return pd.Series(visit_adstock(wide, decay).ravel(), index=visits.index, name=f"{column}_adstock")
    wide = np.asarray(visits, dtype=float)
    stock = np.zeros_like(wide)
    carry = np.zeros(wide.shape[0])
    for t in range(wide.shape[1]):
        carry = wide[:, t] + decay * carry
        stock[:, t] = carry
    return stock


def codes_in(values: pd.Series, categories: pd.Index) -> np.ndarray:
    """Position of each value in ``categories`` (unique), -1 where absent or missing.

    Equal to ``pd.Categorical(values, categories=categories).codes``, which converts
    tens of millions of arrow strings to Python objects at national scale: text is
    looked up with arrow's hash join (``pyarrow.compute.index_in``) and dates by binary
    search of the sorted months, exact matches only.

    Examples
    --------
    >>> codes_in(pd.Series(["D2", None, "X", "D1"], dtype="string[pyarrow]"), pd.Index(["D1", "D2"])).tolist()
    [1, -1, -1, 0]
    >>> months = pd.date_range("2025-01-01", periods=2, freq="MS")
    >>> codes_in(pd.Series(pd.to_datetime(["2025-02-01", "2025-02-03", None])), months).tolist()
    [1, -1, -1]
    """
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    if len(values) < _FAST_CODES_FROM:
        return pd.Categorical(values, categories=categories).codes
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow" and \
            pd.api.types.is_string_dtype(categories.dtype):
        keys = pa.array(np.asarray(categories.astype(object)), type=pa.string())
        found = pc.index_in(pa.chunked_array(pa.array(values.array)), value_set=keys)
        return _small_int(found.fill_null(-1).to_numpy(), len(categories))
    if isinstance(categories, pd.DatetimeIndex) and categories.is_monotonic_increasing \
            and pd.api.types.is_datetime64_dtype(values.dtype) and values.dtype == categories.dtype:
        stamps = values.to_numpy()
        cats = categories.to_numpy()
        at = np.searchsorted(cats, stamps)
        hit = at < len(cats)
        hit[hit] = cats[at[hit]] == stamps[hit]
        return _small_int(np.where(hit, at, -1), len(categories))
    return pd.Categorical(values, categories=categories).codes


#: Rows from which :func:`codes_in` uses arrow and binary search rather than pandas categoricals.
_FAST_CODES_FROM = 50_000


def _small_int(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Codes in the integer type pandas categoricals use for that many categories."""
    for kind in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(kind).max:
            return codes.astype(kind)
    return codes.astype(np.int64)


def grid_sum(rows: np.ndarray, months: np.ndarray, n_rows: int, n_months: int,
             weights: np.ndarray | None = None) -> np.ndarray:
    """Sum ``weights`` (or count) into an ``n_rows × n_months`` grid; codes < 0 are ignored."""
    keep = (rows >= 0) & (months >= 0)
    flat = rows[keep].astype(np.int64) * n_months + months[keep]
    w = None if weights is None else np.asarray(weights, dtype=float)[keep]
    return np.bincount(flat, weights=w, minlength=n_rows * n_months).astype(float).reshape(n_rows, n_months)


def _long(keys: dict[str, pd.Index | np.ndarray], months: pd.DatetimeIndex, n_rows: int) -> pd.DataFrame:
    frame = {name: np.repeat(np.asarray(values), len(months)) for name, values in keys.items()}
    frame["month"] = np.tile(months.to_numpy(), n_rows)
    return pd.DataFrame(frame)


def doctor_month_panel(doctors: pd.DataFrame, visits: pd.DataFrame, prescriptions: pd.DataFrame | None = None,
                       *, events: pd.DataFrame | None = None, event_attendance: pd.DataFrame | None = None,
                       products: pd.DataFrame | None = None, product_ids: Iterable[str] | str | None = None,
                       decay: float = 0.5, months: pd.DatetimeIndex | None = None,
                       columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Doctor × month: prescriptions, visits by channel, adstocked visits, events attended.

    Parameters
    ----------
    doctors, visits, prescriptions, events, event_attendance, products : DataFrame
        Contract tables. ``prescriptions`` and the event tables may be None.
    product_ids : str or list of str, optional
        Products whose ``trx`` are summed and whose detailing visits are counted.
        Default: every own (non-competitor) product in ``products``, or all products.
    decay : float
        Monthly carry-over of ``visit_adstock`` (of ``detailing_visits``).
    months : DatetimeIndex, optional
        Months of the grid; default from the first to the last month in the data.
    columns : list of str, optional
        Only these of the columns after ``month`` (default: all), e.g. ``["trx"]``: each
        is 7.2M numbers at national scale.

    Returns
    -------
    DataFrame
        One row per doctor and month (sorted by doctor, month): ``doctor_id,
        account_id, month, trx, nrx, visits`` (completed visits, any product),
        ``visits_<channel>`` for each contract channel, ``detailing_visits``
        (completed visits naming one of ``product_ids``), ``visit_adstock`` and
        ``events_attended`` (events starting that month).

    Examples
    --------
    >>> doctors = pd.DataFrame({"doctor_id": ["D1"], "account_id": ["A1"]})
    >>> visits = pd.DataFrame({"visit_id": ["V1"], "doctor_id": ["D1"], "product_id": ["P1"],
    ...     "date": pd.to_datetime(["2025-01-10"]), "channel": ["remote"], "status": ["completed"]})
    >>> rx = pd.DataFrame({"doctor_id": ["D1"], "product_id": ["P1"],
    ...     "month": pd.to_datetime(["2025-02-01"]), "trx": [3.0]})
    >>> doctor_month_panel(doctors, visits, rx, decay=0.5)[["month", "trx", "visits", "visit_adstock"]]
           month  trx  visits  visit_adstock
    0 2025-01-01  0.0     1.0            1.0
    1 2025-02-01  3.0     0.0            0.5
    """
    products_kept = own_product_ids(products, product_ids)
    if prescriptions is not None and products_kept is not None:
        prescriptions = prescriptions[prescriptions["product_id"].isin(products_kept)]
    completed = completed_visits(visits, ["date", "doctor_id", "channel", "product_id"])
    visit_month = month_start(completed["date"])
    if months is None:
        months = month_range(visit_month, None if prescriptions is None else prescriptions["month"])
    ids = pd.Index(doctors["doctor_id"])
    n, n_m = len(ids), len(months)
    panel = _long({"doctor_id": ids, "account_id": doctors["account_id"].to_numpy()}, months, n)

    wanted = set(columns) if columns is not None else None

    def want(*names):
        return wanted is None or bool(wanted.intersection(names))

    m_codes = codes_in(visit_month, months)
    d_codes = codes_in(completed["doctor_id"], ids)
    if want("trx", "nrx"):
        trx = nrx = 0.0
        if prescriptions is not None and len(prescriptions):
            p_rows, p_months = codes_in(prescriptions["doctor_id"], ids), codes_in(prescriptions["month"], months)
            trx = grid_sum(p_rows, p_months, n, n_m, prescriptions["trx"]).ravel()
            if "nrx" in prescriptions and want("nrx"):
                nrx = grid_sum(p_rows, p_months, n, n_m, prescriptions["nrx"].fillna(0)).ravel()
        panel["trx"] = trx
        if want("nrx"):
            panel["nrx"] = nrx
    if want("visits", *(f"visits_{name}" for name in CHANNELS)):
        panel["visits"] = grid_sum(d_codes, m_codes, n, n_m).ravel()
        channel = completed.get("channel", pd.Series("face_to_face", index=completed.index)).fillna("face_to_face")
        for name in CHANNELS:
            sel = (channel == name).to_numpy()
            panel[f"visits_{name}"] = grid_sum(d_codes[sel], m_codes[sel], n, n_m).ravel()
    if want("detailing_visits", "visit_adstock"):
        named = completed.get("product_id", pd.Series(pd.NA, index=completed.index))
        detailing = (named.isin(products_kept) if products_kept is not None else named.notna()).to_numpy()
        detailing_grid = grid_sum(d_codes[detailing], m_codes[detailing], n, n_m)
        panel["detailing_visits"] = detailing_grid.ravel()
        if want("visit_adstock"):
            panel["visit_adstock"] = visit_adstock(detailing_grid, decay).ravel()
    if want("events_attended"):
        panel["events_attended"] = 0.0
        if events is not None and event_attendance is not None and len(event_attendance):
            start = event_attendance.merge(events[["event_id", "start_date"]], on="event_id", how="left")
            panel["events_attended"] = grid_sum(codes_in(start["doctor_id"], ids),
                                                codes_in(month_start(start["start_date"]), months), n, n_m).ravel()
    extra = [c for c in panel.columns[3:] if wanted is not None and c not in wanted]
    return panel.drop(columns=extra) if extra else panel


def account_month_panel(accounts: pd.DataFrame, sales: pd.DataFrame | None = None, *,
                        doctors: pd.DataFrame | None = None, visits: pd.DataFrame | None = None,
                        prescriptions: pd.DataFrame | None = None, products: pd.DataFrame | None = None,
                        product_ids: Iterable[str] | str | None = None,
                        months: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Account × month: sell-out, returns, revenue, prescriptions and visits to its doctors.

    Returns
    -------
    DataFrame
        One row per account and month: ``account_id, region, territory_id, month,
        sell_out`` (net units, returns included), ``returns`` (units returned, ≥ 0),
        ``revenue``, ``trx`` (its doctors' prescriptions), ``visits`` (completed visits
        to its doctors) and ``doctors`` (doctors on file).

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["A1"], "region": ["N"], "territory_id": ["T1"]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-03", "2025-01-20"]),
    ...     "account_id": ["A1", "A1"], "product_id": ["P1", "P1"], "units": [10.0, -2.0]})
    >>> account_month_panel(accounts, sales)[["sell_out", "returns"]].to_numpy().tolist()
    [[8.0, 2.0]]
    """
    products_kept = own_product_ids(products, product_ids)
    if sales is not None and products_kept is not None:
        sales = sales[sales["product_id"].isin(products_kept)]
    if prescriptions is not None and products_kept is not None:
        prescriptions = prescriptions[prescriptions["product_id"].isin(products_kept)]
    has_visits = visits is not None and doctors is not None and len(visits) > 0
    if has_visits:
        visits = completed_visits(visits, ["doctor_id", "date"])
    if months is None:
        months = month_range(None if sales is None else sales["date"],
                             None if prescriptions is None else prescriptions["month"],
                             visits["date"] if has_visits else None)
    ids = pd.Index(accounts["account_id"])
    n, n_m = len(ids), len(months)
    panel = _long({"account_id": ids, "region": accounts["region"].to_numpy(),
                   "territory_id": accounts["territory_id"].to_numpy()}, months, n)
    for column in ("sell_out", "returns", "revenue", "trx", "visits"):
        panel[column] = 0.0
    if sales is not None and len(sales):
        rows, cols = codes_in(sales["account_id"], ids), codes_in(month_start(sales["date"]), months)
        units = sales["units"].to_numpy(float)
        panel["sell_out"] = grid_sum(rows, cols, n, n_m, units).ravel()
        panel["returns"] = grid_sum(rows, cols, n, n_m, np.clip(-units, 0, None)).ravel()
        if "revenue" in sales:
            panel["revenue"] = grid_sum(rows, cols, n, n_m, sales["revenue"].fillna(0)).ravel()
    if doctors is not None and len(doctors):
        account_rows = _account_rows(doctors, ids)
        if prescriptions is not None and len(prescriptions):
            rows = account_rows(prescriptions["doctor_id"])
            panel["trx"] = grid_sum(rows, codes_in(prescriptions["month"], months), n, n_m,
                                    prescriptions["trx"]).ravel()
        if has_visits:
            rows = account_rows(visits["doctor_id"])
            panel["visits"] = grid_sum(rows, codes_in(month_start(visits["date"]), months), n, n_m).ravel()
        counts = doctors["account_id"].value_counts().reindex(ids, fill_value=0).to_numpy()
        panel["doctors"] = np.repeat(counts, n_m)
    else:
        panel["doctors"] = 0
    return panel


def _account_rows(doctors: pd.DataFrame, ids: pd.Index):
    """A function: doctor IDs → the panel row of each doctor's account (-1: none).

    As ``codes_in(doctor_ids.map(account_of), ids)``, without mapping millions of IDs to
    account IDs first: the doctor's position, then its account's row.
    """
    doctor_ids = pd.Index(doctors["doctor_id"])
    if not doctor_ids.is_unique:  # the contract's key; keep pandas' answer otherwise
        account_of = doctors.set_index("doctor_id")["account_id"]
        return lambda values: codes_in(values.map(account_of), ids)
    account_row = np.append(codes_in(doctors["account_id"], ids), -1).astype(np.int64)

    def rows(values: pd.Series) -> np.ndarray:
        return account_row[codes_in(values, doctor_ids).astype(np.int64)]  # -1 → the appended -1
    return rows


def days_on_hand(inventory: pd.Series | np.ndarray, sell_out: pd.Series | np.ndarray,
                 days: pd.Series | np.ndarray) -> np.ndarray:
    """Inventory ÷ average daily sell-out; NaN where there is no sell-out.

    Examples
    --------
    >>> days_on_hand(np.array([300.0, 10.0]), np.array([310.0, 0.0]), np.array([31, 30])).tolist()
    [30.0, nan]
    """
    daily = np.asarray(sell_out, dtype=float) / np.asarray(days, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(daily > 0, np.asarray(inventory, dtype=float) / daily, np.nan)


def channel_panel(shipments: pd.DataFrame | None, sales: pd.DataFrame | None,
                  inventory: pd.DataFrame | None, *, distributors: pd.DataFrame | None = None,
                  months: pd.DatetimeIndex | None = None, window: int = 3) -> pd.DataFrame:
    """Distributor × product × month: sell-in, sell-out, inventory, days on hand.

    ``sell_in`` sums shipments to the distributor, ``sell_out`` sums sales with that
    ``distributor_id`` (returns netted), ``inventory`` is the last snapshot of the
    month (NaN when none), and ``days_on_hand`` is inventory ÷ average daily sell-out
    over the trailing ``window`` months (this month included).

    Examples
    --------
    >>> ship = pd.DataFrame({"date": pd.to_datetime(["2025-01-02"]), "distributor_id": ["W1"],
    ...     "product_id": ["P1"], "units": [100.0]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-15"]), "account_id": ["A1"],
    ...     "product_id": ["P1"], "units": [62.0], "distributor_id": ["W1"]})
    >>> inv = pd.DataFrame({"date": pd.to_datetime(["2025-01-31"]), "distributor_id": ["W1"],
    ...     "product_id": ["P1"], "units_on_hand": [38.0]})
    >>> channel_panel(ship, sales, inv)[["sell_in", "sell_out", "inventory", "days_on_hand"]].to_numpy().tolist()
    [[100.0, 62.0, 38.0, 19.0]]
    """
    parts = []
    if shipments is not None and len(shipments):
        parts.append(shipments.assign(month=month_start(shipments["date"]))
                     .groupby(["distributor_id", "product_id", "month"], observed=True)["units"].sum()
                     .rename("sell_in"))
    if sales is not None and len(sales) and "distributor_id" in sales:
        via = sales[sales["distributor_id"].notna()]
        parts.append(via.assign(month=month_start(via["date"]))
                     .groupby(["distributor_id", "product_id", "month"], observed=True)["units"].sum()
                     .rename("sell_out"))
    if inventory is not None and len(inventory):
        last = inventory.sort_values("date", kind="stable").assign(month=lambda d: month_start(d["date"]))
        parts.append(last.groupby(["distributor_id", "product_id", "month"], observed=True)["units_on_hand"]
                     .last().rename("inventory"))
    if not parts:
        raise ValueError("channel_panel needs at least one of shipments, sales (with distributor_id), inventory")
    flows = pd.concat(parts, axis=1)
    if months is None:
        months = pd.date_range(flows.index.get_level_values("month").min(),
                               flows.index.get_level_values("month").max(), freq="MS")
    pairs = flows.index.droplevel("month").unique().sort_values()
    grid = pd.MultiIndex.from_tuples([(d, p, m) for d, p in pairs for m in months],
                                     names=["distributor_id", "product_id", "month"])
    panel = flows.reindex(grid)
    for column in ("sell_in", "sell_out"):
        panel[column] = panel[column].fillna(0.0) if column in panel else 0.0
    if "inventory" not in panel:
        panel["inventory"] = np.nan
    panel = panel.reset_index()
    days = panel["month"].dt.days_in_month
    by_series = [panel["distributor_id"], panel["product_id"]]
    trailing_sell_out = panel["sell_out"].groupby(by_series).transform(lambda x: x.rolling(window, 1).sum())
    trailing_days = days.groupby(by_series).transform(lambda x: x.rolling(window, 1).sum())
    panel["days_on_hand"] = days_on_hand(panel["inventory"], trailing_sell_out, trailing_days)
    if distributors is not None and "region" in distributors:
        panel.insert(1, "region", panel["distributor_id"].map(distributors.set_index("distributor_id")["region"]))
    return panel[[c for c in ("distributor_id", "region", "product_id", "month", "sell_in", "sell_out",
                              "inventory", "days_on_hand") if c in panel]]
