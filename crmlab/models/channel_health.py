"""Channel health: each distributor's ordering policy and its stock against a target band.

Needs the inventory table; not a forecast, though it uses the sell-out forecast to judge
stock-out risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def estimate_channel_policy(shipments: pd.DataFrame, panel: pd.DataFrame, window: int = 3) -> pd.DataFrame:
    """Each distributor's ordering policy as revealed by its shipments and stock.

    ``lot`` is the greatest common divisor of its positive shipment quantities (orders come
    in whole lots). The order-up-to target, in days of demand, is read in months that
    follow no quarter-end loading (Feb, May, Aug, Nov): after ordering up to
    ``f (1 + target / 30)`` in whole lots, month-end stock is ``f · target / 30 + U · lot
    + (f - sell_out)``, with ``f`` the trailing ``window``-month sell-out and ``U`` the
    rounding up, on average one half. So ``target = 30 · median((inventory + sell_out - f
    - lot / 2) / f)``.

    Returns
    -------
    DataFrame
        ``distributor_id, product_id, lot, target_days_on_hand``.

    Examples
    --------
    >>> estimate_channel_policy(shipments, panel)  # doctest: +SKIP
    """
    positive = shipments[shipments["units"] > 0]
    lots = (positive.assign(units=positive["units"].round().astype(np.int64))
            .groupby(["distributor_id", "product_id"])["units"].agg(lambda u: int(np.gcd.reduce(u.to_numpy())))
            .rename("lot").reset_index().astype({"distributor_id": object, "product_id": object}))
    rows = []
    for (distributor, product), series in panel.sort_values("month").groupby(["distributor_id", "product_id"]):
        sell_out = series["sell_out"].to_numpy(float)
        trailing = pd.Series(sell_out).shift(1).rolling(window).mean().to_numpy()
        month = series["month"].dt.month.to_numpy()
        lot = lots.loc[(lots["distributor_id"] == distributor) & (lots["product_id"] == product), "lot"]
        lot = float(lot.iat[0]) if len(lot) else np.nan
        calm = (month % 3 == 2) & (trailing > 0)
        excess = (series["inventory"].to_numpy(float) + sell_out - trailing - lot / 2) / trailing
        rows.append({"distributor_id": distributor, "product_id": product, "lot": lot,
                     "target_days_on_hand": 30 * float(np.nanmedian(excess[calm])) if calm.any() else np.nan})
    return pd.DataFrame(rows)


def channel_health(panel: pd.DataFrame, forecast: pd.DataFrame | None = None, *, doh_low: float = 20.0,
                   doh_high: float = 75.0, recent_months: int = 3, stocking_up_ratio: float = 1.2,
                   stockout_days: float = 15.0, returns_share: float = 0.05) -> pd.DataFrame:
    """Days on hand against a target band, with stocking-up, stock-out and returns flags.

    Per distributor and product, over the last ``recent_months`` months:

    * ``overstocked`` / ``understocked`` — mean days on hand above ``doh_high`` or below
      ``doh_low``;
    * ``stocking_up`` — sell-in above ``stocking_up_ratio`` × sell-out in the recent
      months taken together *and* in each of two trailing 3-month windows, so one lumpy
      order does not raise it;
    * ``stockout_risk`` — the last month-end stock covers fewer than ``stockout_days`` of
      the next month's forecast sell-out (or of the recent sell-out without a forecast);
    * ``unusual_returns`` — units sent back to the manufacturer exceed ``returns_share``
      of the recent sell-out.

    Parameters
    ----------
    panel : DataFrame
        From :func:`crmlab.features.forecast.forecast_panel`.
    forecast : DataFrame, optional
        ``ChannelForecaster.forecast_``; its first distributor-level sell-out month is used.

    Returns
    -------
    DataFrame
        ``distributor_id, region, product_id, days_on_hand, days_on_hand_recent,
        sell_in_recent, sell_out_recent, sell_in_to_sell_out, returns_recent,
        days_covered_next_month, overstocked, understocked, stocking_up, stockout_risk,
        unusual_returns, flags``.

    Examples
    --------
    >>> panel = pd.DataFrame({"distributor_id": ["W1"] * 3, "region": ["N"] * 3, "product_id": ["P1"] * 3,
    ...     "month": pd.date_range("2025-01-01", periods=3, freq="MS"), "sell_in": [100.0, 100.0, 100.0],
    ...     "sell_out": [60.0, 60.0, 60.0], "inventory": [40.0, 80.0, 120.0],
    ...     "days_on_hand": [20.0, 40.0, 60.0], "returns": [0.0, 0.0, 0.0]})
    >>> channel_health(panel)[["stocking_up", "flags"]].to_numpy().tolist()
    [[True, 'stocking_up']]
    """
    ordered = panel.sort_values(["distributor_id", "product_id", "month"], kind="stable")
    months = np.sort(ordered["month"].unique())
    recent = ordered[ordered["month"].isin(months[-recent_months:])]
    by = ["distributor_id", "region", "product_id"]
    health = recent.groupby(by, sort=True).agg(
        days_on_hand_recent=("days_on_hand", "mean"), sell_in_recent=("sell_in", "sum"),
        sell_out_recent=("sell_out", "sum"), returns_recent=("returns", "sum")).reset_index()
    last = ordered[ordered["month"] == months[-1]].set_index(["distributor_id", "product_id"])
    index = pd.MultiIndex.from_frame(health[["distributor_id", "product_id"]])
    health.insert(3, "days_on_hand", last["days_on_hand"].reindex(index).to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        health["sell_in_to_sell_out"] = health["sell_in_recent"] / health["sell_out_recent"]
    # two trailing 3-month windows ending this month and last month: a sustained excess
    rolling = ordered.groupby(["distributor_id", "product_id"])[["sell_in", "sell_out"]] \
        .rolling(3, min_periods=3).sum().reset_index(level=[0, 1])
    rolling["month"] = ordered["month"]
    rolling["ratio"] = rolling["sell_in"] / rolling["sell_out"].where(rolling["sell_out"] > 0)
    windows = rolling[rolling["month"].isin(months[-2:])].groupby(["distributor_id", "product_id"])["ratio"].min()
    sustained = windows.reindex(index).to_numpy() > stocking_up_ratio
    next_sell_out = health["sell_out_recent"].to_numpy(float) / recent_months
    if forecast is not None and len(forecast):
        mine = forecast[(forecast["level"] == "distributor") & (forecast["measure"] == "sell_out")]
        mine = mine[mine["month"] == mine["month"].min()].set_index(["distributor_id", "product_id"])
        next_sell_out = mine["forecast"].reindex(index).fillna(pd.Series(next_sell_out, index=index)).to_numpy()
    stock = last["inventory"].reindex(index).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        health["days_covered_next_month"] = np.where(next_sell_out > 0, stock / (next_sell_out / 30.4), np.nan)
    health["overstocked"] = health["days_on_hand_recent"] > doh_high
    health["understocked"] = health["days_on_hand_recent"] < doh_low
    health["stocking_up"] = (health["sell_in_to_sell_out"] > stocking_up_ratio) & sustained
    health["stockout_risk"] = health["days_covered_next_month"] < stockout_days
    health["unusual_returns"] = health["returns_recent"] > returns_share * health["sell_out_recent"]
    flag_names = ["overstocked", "understocked", "stocking_up", "stockout_risk", "unusual_returns"]
    health["flags"] = [", ".join(name for name, on in zip(flag_names, row) if on)
                       for row in health[flag_names].to_numpy()]
    return health
