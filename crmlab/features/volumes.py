"""Monthly volumes per doctor or account and product, over periods anchored on the data.

Conventions:

* A *month* is the first day of the month; a period is the last ``n`` months of the
  data (the latest month found in prescriptions, sales or visits), optionally ``lag``
  months earlier.
* Volumes are **monthly means** over the period, so periods of different lengths compare.
* Own products are the non-competitor products in ``products`` (all products when the
  table says nothing), see :func:`crmlab.features.common.own_product_ids`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from crmlab.features.common import own_product_ids, require
from crmlab.features.panels import month_start


def as_text(values: pd.Series) -> pd.Series:
    """Object strings with None for missing, so string[pyarrow] and object behave alike.

    Examples
    --------
    >>> as_text(pd.Series(["D1", None], dtype="string")).tolist()
    ['D1', None]
    """
    return values.astype(object).where(values.notna(), None)


def as_float(values: pd.Series) -> np.ndarray:
    """Float array with NaN for missing values (handles nullable Int64 and strings).

    Examples
    --------
    >>> as_float(pd.Series([40, None], dtype="Int64")).tolist()
    [40.0, nan]
    """
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


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


def _monthly_mean_by_product(table: pd.DataFrame, month: pd.Series, key: str, value: str,
                             months: pd.DatetimeIndex, product_ids: Iterable[str] | None) -> pd.DataFrame:
    """Sum ``value`` per ``key`` × product over ``months``, divided by the number of months (wide)."""
    keep = month.isin(months)
    if product_ids is not None:
        keep &= table["product_id"].isin(list(product_ids))
    inside = table[keep]
    # grouped on arrow strings as they are (no Python string per row); the result's labels as text
    wide = (inside[value].groupby([_group_key(inside[key]), _group_key(inside["product_id"])]).sum()
            .unstack(-1, fill_value=0.0))
    wide.columns = pd.Index(as_text(wide.columns.to_series()).to_numpy(), name=None)
    wide.index = pd.Index(as_text(wide.index.to_series()).to_numpy(), name=key)
    return wide / len(months)


def _group_key(values: pd.Series) -> pd.Series:
    return values if isinstance(values.dtype, pd.StringDtype) else as_text(values)


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
    require(prescriptions, "prescriptions", ["doctor_id", "product_id", "month", "trx"], "volumes")
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
    require(sales, "sales", ["date", "account_id", "product_id", "units"], "account sell-out")
    inside = sales[month_start(sales["date"]).isin(months)]
    if product_ids is not None:
        inside = inside[inside["product_id"].isin(list(product_ids))]
    total = inside.groupby(as_text(inside["account_id"]))["units"].sum() / len(months)
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
    require(sales, "sales", ["date", "account_id", "product_id", "units"], "account sell-out")
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
    require(sales, "sales", ["date", "account_id", "product_id", "units"], "account sell-out")
    return _monthly_mean_by_product(sales, month_start(sales["date"]), "account_id", "units",
                                    months, product_ids)
