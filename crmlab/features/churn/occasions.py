"""Purchase occasions: the inputs of the BG/NBD, time units, and date parameters."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from crmlab.features.churn.history import ChurnHistory, entity_codes
from crmlab.features.common import sorted_unique

#: Time units of the purchase-occasion models, in days; ``auto`` = the finest the data has.
TIME_UNITS = {"day": 1.0, "week": 7.0, "month": 30.4375}


def rfm_at(history: ChurnHistory, as_of, *, time_unit: str = "month") -> pd.DataFrame:
    """BG/NBD inputs as of ``as_of``: ``frequency`` (repeat occasions), ``recency`` and ``T``.

    An occasion is a distinct ``time_unit`` period (day, week ending Sunday, calendar
    month) with a purchase, dated at the period's end (or at ``as_of`` if that is
    earlier). Times are in ``time_unit`` (a month is 30.4375 days) from each entity's
    first occasion; recency is the time of its last occasion. Entities with no occasion
    get ``T = NaN``.

    Examples
    --------
    >>> h = ChurnHistory(pd.Index(["a"]), pd.date_range("2025-01-01", periods=3, freq="MS"), np.ones((1, 3)),
    ...     None, None, None, np.zeros(1, int), np.array(["T"]), pd.DataFrame(index=["a"]),
    ...     pd.DataFrame({"entity_id": ["a", "a"], "date": pd.to_datetime(["2025-01-01", "2025-02-01"])}),
    ...     "doctor", "prescriptions")
    >>> rfm_at(h, "2025-03-01", time_unit="day").to_numpy().tolist()
    [[1.0, 31.0, 59.0]]
    >>> rfm_at(h, "2025-03-01", time_unit="month").round(2).to_numpy().tolist()  # at Jan 31, Feb 28
    [[1.0, 0.92, 0.95]]
    """
    as_of = pd.Timestamp(as_of)
    occ = history.occasions
    entity = occ["entity_id"]
    if isinstance(entity.dtype, pd.CategoricalDtype) and entity.cat.categories.equals(history.entity_ids):
        codes = entity.cat.codes.to_numpy()
    else:
        codes = entity_codes(entity, history.entity_ids)
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}")
    unit_days = TIME_UNITS[time_unit]
    dates = pd.to_datetime(occ["date"])
    end = np.datetime64(as_of, "D").astype(np.int64)
    keep = (codes >= 0) & (dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64) <= end)
    if time_unit != "day":
        dates = dates + (pd.offsets.Week(weekday=6) if time_unit == "week" else pd.offsets.MonthEnd(0))
    days = np.minimum(dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64), end)
    codes, days = codes[keep], days[keep]
    if time_unit != "day":  # one occasion per entity and period
        if len(days):  # distinct (entity, day) pairs as one integer each (not numpy's slow row-wise unique)
            low, span = days.min(), days.max() - days.min() + 1
            pairs = sorted_unique(codes.astype(np.int64) * span + (days - low))
            codes, days = pairs // span, pairs % span + low
    n = len(history.entity_ids)
    count = np.bincount(codes, minlength=n).astype(float)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, codes, days)
    np.maximum.at(last, codes, days)
    seen = count > 0
    out = pd.DataFrame(index=history.entity_ids)
    out["frequency"] = np.where(seen, count - 1, np.nan)
    out["recency"] = np.where(seen, (last - first) / unit_days, np.nan)
    out["T"] = np.where(seen, (end - first) / unit_days, np.nan)
    return out


def parse_date(value, name: str = "as_of", *, end_of_month: bool = True) -> pd.Timestamp:
    """A date parameter given as ``YYYY-MM-DD`` or ``YYYY-MM`` (a date or Timestamp too).

    ``YYYY-MM`` is that month's last day (``end_of_month``) or its first.

    Examples
    --------
    >>> str(parse_date("1997-09").date()), str(parse_date("1997-09-15").date())
    ('1997-09-30', '1997-09-15')
    >>> parse_date("Sept 97")
    Traceback (most recent call last):
    ...
    ValueError: as_of must be a date as YYYY-MM-DD or YYYY-MM, got 'Sept 97'
    """
    message = f"{name} must be a date as YYYY-MM-DD or YYYY-MM, got {value!r}"
    try:
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d{4}-\d{2}", text):
                month = pd.Timestamp(f"{text}-01")
                return month + pd.offsets.MonthEnd(0) if end_of_month else month
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError(message)
        return pd.Timestamp(value).normalize()
    except (TypeError, ValueError) as err:
        raise ValueError(message) from err


def data_grain(history: ChurnHistory) -> str:
    """The finest time unit the volume data has: ``month`` for monthly prescriptions or
    sales dated on one day of the month, ``week`` for weekly sales, else ``day``.

    Examples
    --------
    >>> h = ChurnHistory(pd.Index(["a"]), pd.date_range("2025-01-01", periods=2, freq="MS"), np.ones((1, 2)),
    ...     None, None, None, np.zeros(1, int), np.array(["T"]), pd.DataFrame(index=["a"]),
    ...     pd.DataFrame({"entity_id": ["a", "a"], "date": pd.to_datetime(["2025-01-06", "2025-02-17"])}),
    ...     "account", "sales")
    >>> data_grain(h)
    'week'
    """
    if history.source == "prescriptions":
        return "month"
    dates = pd.DatetimeIndex(pd.to_datetime(history.occasions["date"]).unique())
    if len(dates) < 2:
        return "month"
    if dates.day.nunique() == 1:
        return "month"
    if dates.dayofweek.nunique() == 1:
        return "week"
    return "day"


def resolve_time_unit(requested: str, grain: str) -> tuple[str, str]:
    """The time unit to fit in, and a note when the request was finer than the data.

    Examples
    --------
    >>> resolve_time_unit("auto", "day")
    ('day', '')
    >>> resolve_time_unit("day", "month")[0]
    'month'
    """
    order = list(TIME_UNITS)
    if requested == "auto":
        return grain, ""
    if requested not in order:
        raise ValueError(f"time_unit must be auto or one of {', '.join(order)}, got {requested!r}")
    if order.index(requested) < order.index(grain):
        return grain, (f"time_unit {requested!r} is finer than the data ({grain}ly volume): "
                       f"fitted by {grain}")
    return requested, ""


def horizon_length(as_of, horizon_months: int, time_unit: str) -> float:
    """The horizon (the ``horizon_months`` calendar months after ``as_of``'s month) in ``time_unit``.

    Examples
    --------
    >>> horizon_length("1997-09-30", 9, "week")  # 1 Oct 1997 to 30 Jun 1998: 273 days
    39.0
    """
    as_of = pd.Timestamp(as_of)
    end = as_of + pd.offsets.MonthEnd(0) + pd.offsets.MonthEnd(horizon_months)
    return float((end - as_of).days) / TIME_UNITS[time_unit]


def occasions_between(history: ChurnHistory, start, end, *, time_unit: str = "day") -> pd.Series:
    """Purchase occasions of each entity dated in ``(start, end]``: distinct ``time_unit``
    periods with a purchase (a week straddling ``start`` counts if bought in after it).

    Examples
    --------
    >>> h = ChurnHistory(pd.Index(["a"]), pd.date_range("2025-01-01", periods=1, freq="MS"), np.ones((1, 1)),
    ...     None, None, None, np.zeros(1, int), np.array(["T"]), pd.DataFrame(index=["a"]),
    ...     pd.DataFrame({"entity_id": ["a"] * 3, "date": pd.to_datetime(["2025-01-02", "2025-01-03",
    ...                                                                 "2025-01-20"])}), "account", "sales")
    >>> occasions_between(h, "2025-01-01", "2025-01-31", time_unit="week").tolist()
    [2]
    """
    occ = history.occasions
    dates = pd.to_datetime(occ["date"])
    inside = ((dates > pd.Timestamp(start)) & (dates <= pd.Timestamp(end))).to_numpy()
    codes = entity_codes(occ["entity_id"], history.entity_ids)[inside]
    period = {"day": "D", "week": "W-SUN", "month": "M"}[time_unit]
    periods = dates[inside].dt.to_period(period).astype("int64").to_numpy() if inside.any() else np.zeros(0, int)
    pairs = np.unique(np.column_stack([codes, periods]), axis=0) if len(codes) else np.zeros((0, 2), int)
    pairs = pairs[pairs[:, 0] >= 0]
    counts = np.bincount(pairs[:, 0].astype(np.int64), minlength=len(history.entity_ids))
    return pd.Series(counts, index=history.entity_ids, name="occasions")
