"""Seasonality pooled across series: estimated on their total, applied to each.

Two or three seasonal cycles are too few to estimate twelve monthly factors per series:
each factor rests on two or three noisy months. The series of one product share its
seasonality (flu season, holidays, quarter-end loading), and their total is far less
noisy. So the seasonal factors are estimated once on the pool, the product's national
total, by ratio to a centred 12-month moving average (classical multiplicative
decomposition), and each series is

1. seasonally adjusted with its pool's factors, ``a_t = y_t / s_{m(t)}``;
2. forecast with a damped-trend exponential smoothing (statsforecast ``AutoETS``,
   ``AAdN``) on the adjusted series;
3. re-seasonalised, ``ŷ_{T+h} = â_{T+h} · s_{m(T+h)}``; the interval scales the same way.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

SEASON = 12


def seasonal_factors(pool: np.ndarray, months: pd.DatetimeIndex) -> np.ndarray:
    """Multiplicative seasonal factors by calendar month (n_pools × 12, mean 1 per row).

    Ratio of each month to the centred 2×12 moving average, averaged by calendar month.
    A pool with fewer than 13 months, or with a non-positive moving average, gets flat
    factors (all 1).

    Examples
    --------
    >>> months = pd.date_range("2022-01-01", periods=36, freq="MS")
    >>> shape = 1 + 0.2 * np.cos(2 * np.pi * np.arange(12) / 12)
    >>> pool = (100 * np.tile(shape, 3))[None, :]
    >>> bool(np.allclose(seasonal_factors(pool, months), shape / shape.mean(), atol=1e-9))
    True
    """
    pool = np.atleast_2d(np.asarray(pool, float))
    n, n_m = pool.shape
    factors = np.ones((n, SEASON))
    if n_m < SEASON + 1:
        return factors
    weights = np.r_[0.5, np.ones(SEASON - 1), 0.5] / SEASON
    centred = np.full_like(pool, np.nan)
    half = SEASON // 2
    for t in range(half, n_m - half):
        centred[:, t] = pool[:, t - half:t + half + 1] @ weights
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(centred > 0, pool / centred, np.nan)
    calendar = np.asarray(months.month) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # calendar months without a ratio
        for m in range(SEASON):
            factors[:, m] = np.nanmean(ratio[:, calendar == m], axis=1) if (calendar == m).any() else np.nan
    usable = np.isfinite(factors).all(axis=1) & (factors > 0).all(axis=1)
    factors[~usable] = 1.0
    return factors / factors.mean(axis=1, keepdims=True)


def pooled_seasonal_forecast(y: np.ndarray, months: pd.DatetimeIndex, horizon: int, pool: np.ndarray | None = None,
                             *, alpha: float = 0.2):
    """Damped-trend forecast of each series adjusted by its pool's seasonal factors.

    Parameters
    ----------
    y : ndarray (n_series × n_months)
    months : DatetimeIndex
    horizon : int
    pool : ndarray (n_series × n_months), optional
        For each series, the total its seasonality is estimated on (e.g. the national
        series of its product); default the series itself.
    alpha : float
        The interval covers ``1 - alpha``.

    Returns
    -------
    BaseForecast

    Examples
    --------
    >>> months = pd.date_range("2022-01-01", periods=36, freq="MS")
    >>> shape = 1 + 0.3 * np.sin(2 * np.pi * np.arange(36) / 12)
    >>> y = np.vstack([50 * shape, 100 * shape])
    >>> fc = pooled_seasonal_forecast(y, months, 3, pool=np.vstack([150 * shape] * 2))
    >>> (fc.point / (np.array([[50], [100]]) * shape[:3])).round(2).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    return pooled_seasonal_forecasts([(y, months, pool)], horizon, alpha=alpha)[0]


def pooled_seasonal_forecasts(blocks, horizon: int, *, alpha: float = 0.2) -> list:
    """:func:`pooled_seasonal_forecast` of several blocks ``(y, months, pool)``, in one statsforecast run."""
    from crmlab.models.forecast.base import BaseForecast, clipped_forecast, statsforecast_forecasts

    prepared = []
    for y, months, pool in blocks:
        y = np.asarray(y, float)
        pool = y if pool is None else np.asarray(pool, float)
        # one factor set per distinct pool, so 600 series of 5 products decompose 5 totals
        distinct, which = np.unique(pool, axis=0, return_inverse=True)
        factors = seasonal_factors(distinct, months)[np.ravel(which)]
        past = factors[:, np.asarray(months.month) - 1]
        future_months = pd.date_range(months[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
        ahead = factors[:, np.asarray(future_months.month) - 1]
        prepared.append((y / past, months, past, ahead))
    adjusted_all = statsforecast_forecasts([(a, months) for a, months, _, _ in prepared], horizon, "damped_trend",
                                           alpha=alpha)
    out = []
    for (_, _, past, ahead), adjusted in zip(prepared, adjusted_all):
        point = adjusted.point * ahead
        half = (adjusted.upper - adjusted.lower) / 2 * ahead
        fc = clipped_forecast(point, half, adjusted.residuals * past)
        out.append(BaseForecast(fc.point, fc.lower, fc.upper, fc.residuals))
    return out
