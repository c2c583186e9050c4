"""Small channel worlds of other structures, to test the forecast on data it was not built on.

``crmlab.simulate`` makes one kind of market. The forecast must also hold where the
seasonality has another shape, demand trends up or down, products launch or are
withdrawn part-way, and noise is larger. :func:`channel_world` makes distributor ×
product sell-out with each of these as an option (and sell-in and month-end stock from
an order-up-to policy with lots), as contract tables for
:func:`crmlab.features.forecast.forecast_panel`. Nothing in it is tuned to a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SEASONALITY = ("sine", "winter_peak", "summer_dip", "random", "none")
TRENDS = ("flat", "growth", "decline", "damped_growth", "reversal")


@dataclass
class ChannelWorld:
    """Contract tables of a channel world and the expected sell-out it was drawn from."""

    tables: dict[str, pd.DataFrame]
    expected: pd.DataFrame  # distributor_id, product_id, month, expected_sell_out


def _season_shape(kind: str, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Twelve multiplicative factors, mean 1."""
    month = np.arange(12)
    if kind == "sine":
        shape = 1 + amplitude * np.sin(2 * np.pi * (month - rng.integers(12)) / 12)
    elif kind == "winter_peak":  # flu season: a sharp peak around January
        distance = np.minimum(np.abs(month - 0), 12 - np.abs(month - 0))
        shape = 1 + 2.5 * amplitude * np.exp(-(distance / 1.5) ** 2)
    elif kind == "summer_dip":  # holidays: July and August low
        shape = 1 - 1.5 * amplitude * np.isin(month, [6, 7])
    elif kind == "random":
        shape = np.exp(rng.normal(0, amplitude, 12))
    elif kind == "none":
        shape = np.ones(12)
    else:
        raise ValueError(f"unknown seasonality {kind!r}; use one of {SEASONALITY}")
    return shape / shape.mean()


def _trend_path(kind: str, n_months: int, rate: float) -> np.ndarray:
    """Multiplicative trend over the months; ``rate`` is the growth per year."""
    t = np.arange(n_months) / 12
    if kind == "flat":
        return np.ones(n_months)
    if kind == "growth":
        return (1 + rate) ** t
    if kind == "decline":
        return (1 - rate) ** t
    if kind == "damped_growth":
        return 1 + rate * 2 * (1 - np.exp(-t / 2))
    if kind == "reversal":  # grows, then falls from mid-way (a competitor arrives)
        peak = t[n_months // 2]
        return np.where(t <= peak, (1 + rate) ** t, (1 + rate) ** peak * (1 - rate) ** (t - peak))
    raise ValueError(f"unknown trend {kind!r}; use one of {TRENDS}")


def channel_world(seed: int = 0, *, n_distributors: int = 10, n_products: int = 2, n_regions: int = 3,
                  n_months: int = 42, start: str = "2022-01-01", seasonality: str = "sine",
                  amplitude: float = 0.25, regional_seasonality: bool = False, trend: str = "flat",
                  trend_rate: float = 0.15, launches: int = 0, withdrawals: int = 0, noise: float = 0.1,
                  mean_units: float = 400.0) -> ChannelWorld:
    """A channel world: sell-out per distributor and product, sell-in, month-end stock.

    Expected sell-out of distributor ``d`` and product ``p`` in month ``t`` is
    ``size_dp · trend_p(t) · season_p(m(t))``; observed sell-out is Poisson around it
    times a log-normal factor with sd ``noise``. Distributors order up to a days-on-hand
    target (30–50 days of the trailing 3-month sell-out) in whole lots.

    Parameters
    ----------
    seed : int
    n_distributors, n_products, n_regions, n_months : int
    start : str
        First month.
    seasonality : {"sine", "winter_peak", "summer_dip", "random", "none"}
        The shape of each product's seasonality (phase or factors drawn per product).
    amplitude : float
        Strength of the seasonality.
    regional_seasonality : bool
        Each region's seasonality is shifted by up to two months from its product's.
    trend : {"flat", "growth", "decline", "damped_growth", "reversal"}
    trend_rate : float
        Growth (or decline) per year.
    launches, withdrawals : int
        Distributor × product series that start (with a 6-month ramp-up) or stop at a
        random month of the middle half.
    noise : float
        Sd of the log-normal noise around the expected sell-out.
    mean_units : float
        Mean monthly sell-out of a distributor and product.

    Returns
    -------
    ChannelWorld

    Examples
    --------
    >>> world = channel_world(1, n_distributors=4, n_products=2, n_months=24)
    >>> sorted(world.tables)
    ['distributors', 'inventory', 'products', 'sales', 'shipments']
    >>> len(world.expected)
    192
    """
    rng = np.random.default_rng(seed)
    months = pd.date_range(start, periods=n_months, freq="MS")
    distributors = pd.DataFrame({"distributor_id": [f"D{d + 1:02d}" for d in range(n_distributors)],
                                 "region": [f"R{r + 1}" for r in rng.integers(n_regions, size=n_distributors)]})
    products = pd.DataFrame({"product_id": [f"P{p + 1:02d}" for p in range(n_products)], "is_competitor": False})
    calendar = np.asarray(months.month) - 1
    shapes = [_season_shape(seasonality, rng, amplitude) for _ in range(n_products)]
    region_shift = {r: int(rng.integers(-2, 3)) if regional_seasonality else 0
                    for r in distributors["region"].unique()}
    trends = [_trend_path(trend, n_months, trend_rate * rng.uniform(0.5, 1.5)) for _ in range(n_products)]
    size = mean_units * rng.lognormal(0, 0.7, (n_distributors, n_products))
    active = np.ones((n_distributors, n_products, n_months), bool)
    ramp = np.ones((n_distributors, n_products, n_months))
    pairs = [(d, p) for d in range(n_distributors) for p in range(n_products)]
    picked = rng.permutation(len(pairs))[:launches + withdrawals]
    for k, index in enumerate(picked):
        d, p = pairs[index]
        month = int(rng.integers(n_months // 4, 3 * n_months // 4))
        if k < launches:
            active[d, p, :month] = False
            ramp[d, p, month:] = np.minimum(1, (np.arange(n_months - month) + 1) / 6)
        else:
            active[d, p, month:] = False
    rows, expected_rows = [], []
    ship_rows, stock_rows = [], []
    for d, distributor in enumerate(distributors.itertuples(index=False)):
        shift = region_shift[distributor.region]
        for p, product in enumerate(products["product_id"]):
            season = np.roll(shapes[p], shift)[calendar]
            expected = size[d, p] * trends[p] * season * ramp[d, p] * active[d, p]
            units = rng.poisson(expected * rng.lognormal(-noise ** 2 / 2, noise, n_months)).astype(float)
            expected_rows.append(pd.DataFrame({"distributor_id": distributor.distributor_id, "product_id": product,
                                               "month": months, "expected_sell_out": expected}))
            sold = np.flatnonzero(units > 0)
            rows.append(pd.DataFrame({"date": months[sold] + pd.Timedelta(days=14),
                                      "account_id": f"A{d + 1:02d}", "product_id": product,
                                      "units": units[sold], "distributor_id": distributor.distributor_id}))
            lot = float(rng.choice([10, 20, 50]))
            target_days = rng.uniform(30, 50)
            stock = units[:3].mean() * target_days / 30.4
            shipped = np.zeros(n_months)
            on_hand = np.zeros(n_months)
            for t in range(n_months):
                demand = units[max(0, t - 3):t].mean() if t else units[0]
                want = demand * (1 + target_days / 30.4) - stock
                shipped[t] = np.ceil(max(want, 0) / lot) * lot if active[d, p, t] else 0.0
                stock = max(stock + shipped[t] - units[t], 0.0)
                on_hand[t] = stock
            positive = np.flatnonzero(shipped > 0)
            ship_rows.append(pd.DataFrame({"date": months[positive] + pd.Timedelta(days=3),
                                           "distributor_id": distributor.distributor_id, "product_id": product,
                                           "units": shipped[positive]}))
            stock_rows.append(pd.DataFrame({"date": months + pd.offsets.MonthEnd(0),
                                            "distributor_id": distributor.distributor_id, "product_id": product,
                                            "units_on_hand": on_hand}))
    tables = {"sales": pd.concat(rows, ignore_index=True), "shipments": pd.concat(ship_rows, ignore_index=True),
              "inventory": pd.concat(stock_rows, ignore_index=True), "distributors": distributors,
              "products": products}
    return ChannelWorld(tables, pd.concat(expected_rows, ignore_index=True))
