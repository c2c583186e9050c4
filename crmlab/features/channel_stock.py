"""Distributor stock in the driver bridge: sell-in against sell-out, shared out to territories."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.panels import month_start


def _of_account(tables, column: str) -> pd.Series:
    """An account attribute (``territory_id``, ``region``) by account ID, as strings."""
    accounts = tables["accounts"]
    return accounts.assign(account_id=accounts["account_id"].astype(str)).set_index("account_id")[column].astype(str)


def _window_sum(frame, value, key, months, positions) -> pd.Series:
    chosen = months[positions]
    m = month_start(frame["date"])
    sel = frame[m.isin(chosen).to_numpy()]
    return sel.groupby(key)[value].sum()


def _own_rows(frame, products):
    return frame[frame["product_id"].astype(str).isin(products)]


def sell_out_change_by_territory(tables, products, months: pd.DatetimeIndex, current, before) -> pd.Series:
    """Per territory: own-product sell-out (``sales`` units) in the ``current`` months minus the ``before`` ones.

    ``current`` and ``before`` are positions in ``months``.
    """
    sales = _own_rows(tables["sales"], products)
    sales = sales.assign(territory_id=sales["account_id"].astype(str).map(_of_account(tables, "territory_id")))
    now = _window_sum(sales, "units", "territory_id", months, current)
    then = _window_sum(sales, "units", "territory_id", months, before)
    return now.sub(then, fill_value=0.0)


def channel_stock_by_territory(tables, products, months: pd.DatetimeIndex, current, before) -> pd.Series:
    """Per territory: its share of each distributor's change in (sell-in − sell-out).

    A distributor's stock build (sell-in above sell-out) in the ``current`` months minus
    that in the ``before`` ones is shared out to territories by their sell-out through it
    in both windows; without ``distributor_id`` on sales, each region's first distributor
    serves it. Sell-in of a distributor with no sell-out in the windows is spread evenly.
    """
    sales = _own_rows(tables["sales"], products)
    ship = _own_rows(tables["shipments"], products)
    sales = sales.assign(territory_id=sales["account_id"].astype(str).map(_of_account(tables, "territory_id")))
    if "distributor_id" not in sales or sales["distributor_id"].isna().all():
        dist = tables["distributors"]
        if not len(dist) or "region" not in dist:
            return pd.Series(dtype=float)
        first = dist.assign(region=dist["region"].astype(str)).groupby("region")["distributor_id"].first()
        sales = sales.assign(distributor_id=sales["account_id"].astype(str).map(_of_account(tables, "region"))
                             .map(first))
    sales = sales.assign(distributor_id=sales["distributor_id"].astype(str))
    ship = ship.assign(distributor_id=ship["distributor_id"].astype(str))
    net = {}
    for positions, sign in ((current, 1.0), (before, -1.0)):
        si = _window_sum(ship, "units", "distributor_id", months, positions)
        so = _window_sum(sales, "units", "distributor_id", months, positions)
        for d, v in si.sub(so, fill_value=0.0).items():
            net[d] = net.get(d, 0.0) + sign * v
    both = np.r_[current, before]
    share = _window_sum(sales, "units", ["distributor_id", "territory_id"], months, both)
    share = share / share.groupby(level=0).transform("sum")
    out = {}
    for (d, t), w in share.items():
        out[t] = out.get(t, 0.0) + w * net.get(d, 0.0)
    lost = sum(v for d, v in net.items() if d not in share.index.get_level_values(0))
    if lost:  # sell-in of a distributor with no sell-out in the windows: spread over all territories
        n = max(len(out), 1)
        out = {t: v + lost / n for t, v in out.items()}
    return pd.Series(out, dtype=float)
