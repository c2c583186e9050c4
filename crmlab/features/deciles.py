"""Count deciles of volume per doctor or account, per product, and their migration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.common import own_product_ids, require
from crmlab.features.volumes import (
    account_product_sell_out,
    as_text,
    doctor_product_volume,
    last_month,
    period_months,
)


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


def product_deciles(volumes: pd.DataFrame, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """``decile`` of the own products' total volume, then ``decile_<product>`` per product column.

    Examples
    --------
    >>> volumes = pd.DataFrame({"P1": [0.0, 5.0], "C1": [3.0, 1.0]}, index=["D1", "D2"])
    >>> products = pd.DataFrame({"product_id": ["P1", "C1"], "is_competitor": [False, True]})
    >>> product_deciles(volumes, products).to_dict("list")
    {'decile': [0, 10], 'decile_P1': [0, 10], 'decile_C1': [10, 5]}
    """
    own = own_product_ids(products)
    own_cols = [c for c in volumes.columns if own is None or c in own]
    out = decile_table(volumes).add_prefix("decile_")
    out.insert(0, "decile", volume_deciles(volumes[own_cols].sum(axis=1)))
    return out


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
    require(sales, "sales", ["date", "account_id", "product_id", "units"], "account deciles")
    if not len(sales):
        raise ValueError("account deciles need sell-out: the 'sales' table is empty")
    period = period_months(last_month(sales["date"]), months, lag=lag)
    volume = account_product_sell_out(sales, period)
    if accounts is not None and len(accounts):
        volume = volume.reindex(as_text(accounts["account_id"]).to_numpy(), fill_value=0.0)
        volume.index.name = "account_id"
    return product_deciles(volume, products)


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
    out = product_deciles(volume, products)
    out["basis"] = "prescriptions"
    return out
