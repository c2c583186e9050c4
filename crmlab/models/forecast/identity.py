"""Sell-in through the inventory identity ``I_t = I_{t-1} + sell_in_t - sell_out_t``.

Forecast sell-out, hold the distributor's observed days-on-hand target (by month of the
quarter, so quarter-end loading is kept) and order the difference:
``sell_in_t = F_t + I*_t - I_{t-1}``, ``I*_t = doh_q(t) · mean(F_{t-2..t}) / days``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crmlab.models.forecast.base import BaseForecast, clipped_forecast
from crmlab.models.uncertainty import z_value


def quarter_position(months: pd.DatetimeIndex) -> np.ndarray:
    """0 = first month of a quarter, 2 = quarter end (where loading happens).

    Examples
    --------
    >>> quarter_position(pd.date_range("2024-01-01", periods=4, freq="MS")).tolist()
    [0, 1, 2, 0]
    """
    return (np.asarray(months.month) - 1) % 3


def days_on_hand_targets(sell_out: np.ndarray, inventory: np.ndarray, months: pd.DatetimeIndex,
                         window: int = 3) -> np.ndarray:
    """Observed days-on-hand target of each series by month of the quarter (n × 3).

    The median of month-end inventory ÷ average daily sell-out over the trailing
    ``window`` months, separately for the first, middle and last month of a quarter,
    because distributors load up at quarter end and order less the month after.

    Examples
    --------
    >>> months = pd.date_range("2024-01-01", periods=6, freq="MS")
    >>> sell_out = np.full((1, 6), 30.0)
    >>> inventory = np.array([[30.0, 30.0, 60.0, 30.0, 30.0, 60.0]])
    >>> days_on_hand_targets(sell_out, inventory, months).round(0).tolist()
    [[30.0, 30.0, 61.0]]
    """
    days = np.asarray(months.days_in_month, float)
    trailing = pd.DataFrame(sell_out.T).rolling(window, 1).mean().T.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        doh = np.where(trailing > 0, inventory / (trailing / days.mean()), np.nan)
    position = quarter_position(months)
    targets = np.full((sell_out.shape[0], 3), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no inventory on file
        overall = np.nanmedian(doh, axis=1)
        for q in range(3):
            targets[:, q] = np.nanmedian(doh[:, position == q], axis=1) if (position == q).any() else np.nan
    targets = np.where(np.isnan(targets), overall[:, None], targets)
    return np.nan_to_num(targets, nan=0.0)


def _last_valid(values: np.ndarray) -> np.ndarray:
    return pd.DataFrame(values.T).ffill().iloc[-1].to_numpy(float)


def identity_sell_in(sell_out_history: np.ndarray, inventory_history: np.ndarray,
                     sell_in_history: np.ndarray, months: pd.DatetimeIndex, sell_out: BaseForecast, *,
                     alpha: float = 0.2, window: int = 3) -> BaseForecast:
    """Sell-in forecast from a sell-out forecast and the inventory identity.

    ``I*_t = doh_q(t) · mean(F_{t-window+1..t}) / days`` is the stock the distributor
    holds at its observed days-on-hand target; orders are ``max(0, F_t + I*_t - I_{t-1})``
    starting from the last observed inventory. The interval adds the sell-out
    uncertainty carried through the identity and the in-sample error of the identity
    itself (lot sizes, emergency orders), assumed independent.

    Examples
    --------
    >>> months = pd.date_range("2023-01-01", periods=24, freq="MS")
    >>> flat = np.full((1, 24), 30.4)
    >>> fc = BaseForecast(np.full((1, 2), 30.4), np.full((1, 2), 25.0), np.full((1, 2), 36.0), flat * 0)
    >>> identity_sell_in(flat, flat, flat, months, fc).point.round(1).tolist()
    [[30.4, 30.4]]
    """
    n, n_m = sell_out_history.shape
    horizon = sell_out.point.shape[1]
    days_mean = float(np.mean(months.days_in_month))
    targets = days_on_hand_targets(sell_out_history, inventory_history, months, window)
    future = pd.date_range(months[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
    path = np.concatenate([sell_out_history, sell_out.point], axis=1)
    trailing = pd.DataFrame(path.T).rolling(window, 1).mean().T.to_numpy()
    target_stock = targets[:, quarter_position(future)] * trailing[:, n_m:] / days_mean
    stock = np.nan_to_num(_last_valid(inventory_history))
    point = np.empty((n, horizon))
    for h in range(horizon):
        point[:, h] = np.clip(sell_out.point[:, h] + target_stock[:, h] - stock, 0, None)
        stock = stock + point[:, h] - sell_out.point[:, h]
    # in-sample error of the identity with the realised sell-out
    past_target = targets[:, quarter_position(months)] * trailing[:, :n_m] / days_mean
    previous = np.concatenate([np.full((n, 1), np.nan), inventory_history[:, :-1]], axis=1)
    residuals = sell_in_history - np.clip(sell_out_history + past_target - previous, 0, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma_identity = np.sqrt(np.nanmean(residuals ** 2, axis=1, keepdims=True))
    z = z_value(alpha)
    sigma_out = (sell_out.upper - sell_out.lower) / (2 * z)
    carry = 1 + targets[:, quarter_position(future)] / (window * days_mean)
    half = z * np.sqrt((sigma_out * carry) ** 2 + np.nan_to_num(sigma_identity) ** 2)
    return clipped_forecast(point, half, residuals)
