"""Base models: each forecasts a set of monthly series with an interval of coverage ``1 - alpha``.

* ``seasonal_naive`` — ``ŷ_{T+h} = y_{T+h-12k}``; interval from the seasonal differences.
* ``naive`` — ``ŷ_{T+h} = y_T``; interval ``± z σ₁ √h``, σ₁ the sd of first differences.
* ``moving_average`` — mean of the last ``window`` months; interval from its one-step errors.
* ``auto_ets``, ``auto_arima`` — statsforecast ``AutoETS`` / ``AutoARIMA`` with automatic
  selection by AICc, seasonal (period 12) once a series has two full years (ARIMA orders
  capped at p, q ≤ 2 and P, Q ≤ 1).
* ``damped_ets`` — damped-trend Holt–Winters, multiplicative seasonality (statsforecast
  ``AutoETS(model="MAM", damped=True)``; additive ``AAA`` where a series has a month ≤ 0;
  without seasonality before two full years).
* ``pooled_seasonal`` — seasonality estimated on the product's total and applied to each
  series, damped trend on the adjusted series (:mod:`crmlab.models.forecast.pooled`).
* ``combination`` — the mean of the damped Holt–Winters, pooled-seasonal and AutoETS
  forecasts (points, interval bounds and residuals): with 30-odd months no single
  model's choice is reliable, and an equal-weight combination of robust methods is hard
  to beat (Makridakis et al., M4, 2020).
* ``croston``, ``tsb`` — statsforecast ``CrostonOptimized`` / ``TSB`` for intermittent
  series; their interval treats demand as independent around the forecast level.

Every forecast is clipped at zero: units are never negative.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlab.distributed import active, map_rows
from crmlab.models.uncertainty import z_value

BASELINES = ("seasonal_naive", "naive", "moving_average")
STATSFORECAST_MODELS = ("auto_ets", "auto_arima", "damped_ets")
INTERMITTENT_MODELS = ("croston", "tsb")
COMBINED = ("damped_ets", "pooled_seasonal", "auto_ets")
MODELS = BASELINES + STATSFORECAST_MODELS + ("pooled_seasonal", "combination") + INTERMITTENT_MODELS
#: Candidates by default: all but AutoARIMA, which is ranked last on ties and was never chosen
#: (national world, the sample, 15 channel worlds of five structures, three real series sets);
#: leaving it out changed the hold-out MASE ratio to seasonal naive by +0.0007 on average over
#: 11 data sets and cut the national forecast's time by about 60%. Add it back with ``models``.
DEFAULT_MODELS = tuple(m for m in MODELS if m != "auto_arima")
#: Tie-break order of model selection, simplest and most robust first: fixed rules, then
#: models with a few smoothing weights and a fixed form (damped ETS, pooled seasonality),
#: then ETS that chooses its form by AICc, then the
#: equal-weight combination (no weights to fit, lower variance than any of its parts), and
#: last AutoARIMA, whose order search varies most on two or three seasonal cycles.
#: ``identity`` (sell-in) is a rule on top of the sell-out model and ranks with the rules.
PREFERENCE = ("seasonal_naive", "naive", "moving_average", "identity", "croston", "tsb",
              "damped_ets", "pooled_seasonal", "auto_ets", "combination", "auto_arima")
SEASON = 12


@dataclass
class BaseForecast:
    """Forecasts of one model for a set of series (arrays of shape n_series × horizon)."""

    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    residuals: np.ndarray  # in-sample one-step errors, n_series × n_months (NaN where none)

    def rows(self, mask: np.ndarray) -> "BaseForecast":
        """The forecasts of the series selected by ``mask``."""
        return BaseForecast(self.point[mask], self.lower[mask], self.upper[mask], self.residuals[mask])


def clipped_forecast(point, half, residuals) -> BaseForecast:
    """A forecast ``point ± half``, point and lower bound clipped at zero."""
    point = np.clip(point, 0, None)
    return BaseForecast(point, np.clip(point - half, 0, None), point + half, residuals)


def stacked_forecast(parts: list[BaseForecast]) -> BaseForecast:
    """The forecasts of consecutive groups of series, as one (rows in order)."""
    return BaseForecast(*(np.concatenate([getattr(p, a) for p in parts])
                          for a in ("point", "lower", "upper", "residuals")))


def mean_forecast(parts: list[BaseForecast]) -> BaseForecast:
    """The equal-weight mean of several forecasts of the same series (points, bounds, residuals)."""
    return BaseForecast(*(np.mean([getattr(p, a) for p in parts], axis=0)
                          for a in ("point", "lower", "upper", "residuals")))


def baseline_forecast(y: np.ndarray, horizon: int, method: str = "seasonal_naive", *,
                      alpha: float = 0.2, window: int = 3) -> BaseForecast:
    """Seasonal naive, naive or moving-average forecast of each row of ``y``.

    Parameters
    ----------
    y : ndarray (n_series × n_months)
        History, oldest month first. Seasonal naive needs 14 months and falls back to
        naive on shorter series.
    horizon : int
    method : {"seasonal_naive", "naive", "moving_average"}
    alpha : float
        The interval covers ``1 - alpha``.
    window : int
        Months averaged by the moving average.

    Examples
    --------
    >>> y = np.arange(24.0)[None, :]
    >>> baseline_forecast(y, 2, "seasonal_naive").point.tolist()
    [[12.0, 13.0]]
    >>> baseline_forecast(y, 1, "moving_average", window=3).point.tolist()
    [[22.0]]
    """
    y = np.asarray(y, float)
    n, n_m = y.shape
    h = np.arange(1, horizon + 1)
    residuals = np.full_like(y, np.nan)
    if method == "seasonal_naive" and n_m >= SEASON + 2:
        last_season = y[:, n_m - SEASON:]
        point = last_season[:, (h - 1) % SEASON]
        residuals[:, SEASON:] = y[:, SEASON:] - y[:, :-SEASON]
        growth = np.sqrt((h - 1) // SEASON + 1)
    elif method in ("naive", "seasonal_naive"):
        point = np.repeat(y[:, -1:], horizon, axis=1)
        residuals[:, 1:] = np.diff(y, axis=1)
        growth = np.sqrt(h)
    elif method == "moving_average":
        point = np.repeat(y[:, -window:].mean(axis=1, keepdims=True), horizon, axis=1)
        trailing = pd.DataFrame(y.T).rolling(window).mean().shift(1).T.to_numpy()
        residuals = y - trailing
        growth = np.ones(horizon)
    else:
        raise ValueError(f"unknown baseline {method!r}; use one of {BASELINES}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series too short for any error
        sigma = np.sqrt(np.nanmean(residuals ** 2, axis=1, keepdims=True))
    return clipped_forecast(point, z_value(alpha) * np.nan_to_num(sigma) * growth[None, :], residuals)


def _statsforecast_model(method: str, season: int, positive: bool = True):
    from statsforecast.models import TSB, AutoARIMA, AutoETS, CrostonOptimized

    if method == "auto_ets":
        return AutoETS(season_length=season, alias="m")
    if method == "damped_ets":
        form = ("MAM" if positive else "AAA") if season > 1 else "AAN"
        return AutoETS(season_length=season, model=form, damped=True, alias="m")
    if method == "damped_trend":
        return AutoETS(season_length=1, model="AAN", damped=True, alias="m")
    if method == "auto_arima":
        # orders capped: 30-odd months cannot support more, and it keeps 600 series fast
        return AutoARIMA(season_length=season, max_p=2, max_q=2, max_P=1, max_Q=1,
                         start_p=1, start_q=1, start_P=0, start_Q=0, approximation=True, alias="m")
    if method == "croston":
        return CrostonOptimized(alias="m")
    return TSB(alpha_d=0.1, alpha_p=0.1, alias="m")


#: Series in one statsforecast call from which it runs on every core (fewer: one process,
#: where starting workers would cost more than it saves). Results do not depend on it.
PARALLEL_MIN_SERIES = 200


def statsforecast_jobs(n_series: int) -> int:
    """Processes for one statsforecast call: every core for large calls, else one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores) if n_series >= PARALLEL_MIN_SERIES else 1


def _statsforecast_call(rows: list[np.ndarray], months: list[pd.DatetimeIndex], horizon: int, model,
                        level, native: bool) -> tuple[np.ndarray, np.ndarray | None, list | None]:
    """One StatsForecast run over series of possibly different lengths, on every core when large.

    Each series is fitted on its own, so the series are split into contiguous chunks, one
    statsforecast run per chunk on joblib's worker processes, and the results joined in
    order. The workers are fresh processes kept between calls, not forks of this one: a
    process that has started OpenBLAS or numba thread pools (the pyfixest fits of an
    earlier analysis) is not safe to fork, and statsforecast's own ``n_jobs`` forks.
    Returns the points (n × horizon), the half widths (or None), and per series its
    in-sample one-step errors (or None).
    """
    jobs = statsforecast_jobs(len(rows))
    if jobs == 1:
        return _statsforecast_run(rows, months, horizon, model, level, native)
    from joblib import Parallel, delayed

    bounds = np.linspace(0, len(rows), 4 * jobs + 1).astype(int)
    parts = Parallel(n_jobs=jobs)(delayed(_statsforecast_run)(rows[a:b], months[a:b], horizon, model, level, native)
                                  for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
    point = np.concatenate([p[0] for p in parts])
    if not native:
        return point, None, None
    return point, np.concatenate([p[1] for p in parts]), [e for p in parts for e in p[2]]


def _statsforecast_run(rows: list[np.ndarray], months: list[pd.DatetimeIndex], horizon: int, model,
                       level, native: bool) -> tuple[np.ndarray, np.ndarray | None, list | None]:
    """:func:`_statsforecast_call` in this process."""
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    lengths = np.array([len(r) for r in rows])
    n = len(rows)
    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(n), lengths),
                          "ds": np.concatenate([m.to_numpy() for m in months]),
                          "y": np.concatenate(rows)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("statsforecast").setLevel(logging.ERROR)
        engine = StatsForecast(models=[model], freq="MS", n_jobs=1, fallback_model=Naive(alias="m"))
        out = engine.forecast(df=frame, h=horizon, level=[level] if native else None, fitted=native)
        fitted = engine.forecast_fitted_values() if native else None
    out = out.sort_values(["unique_id", "ds"], kind="stable")
    point = out["m"].to_numpy(float).reshape(n, horizon)
    if not native:
        return point, None, None
    half = (out[f"m-hi-{level}"].to_numpy(float) - out[f"m-lo-{level}"].to_numpy(float)).reshape(n, horizon) / 2
    fitted = fitted.sort_values(["unique_id", "ds"], kind="stable")
    errors = fitted["y"].to_numpy(float) - fitted["m"].to_numpy(float)
    return point, half, np.split(errors, np.cumsum(lengths)[:-1])


def statsforecast_forecasts(blocks: list[tuple[np.ndarray, pd.DatetimeIndex]], horizon: int, method: str, *,
                            alpha: float = 0.2) -> list[BaseForecast]:
    """One statsforecast model on every row of several blocks of series, in one run.

    Each block is ``(y, months)``, ``y`` of shape n_series × len(months); blocks may have
    different months (e.g. the training windows of a backtest's origins). Every series is
    fitted on its own, so the forecasts are those of :func:`statsforecast_forecast` on
    each block; one run (on every core when large) saves the start-up of many.
    """
    blocks = [(np.asarray(y, float), months) for y, months in blocks]
    native = method not in INTERMITTENT_MODELS
    level = round(100 * (1 - alpha), 6)
    level = int(level) if float(level).is_integer() else level
    # the model form per series: season by history length, damped ETS multiplicative if positive
    forms: dict[tuple, list[tuple[int, int]]] = {}
    for b, (y, months) in enumerate(blocks):
        season = SEASON if y.shape[1] >= 2 * SEASON else 1
        positive = (y > 0).all(axis=1) if method == "damped_ets" else np.ones(len(y), bool)
        for i in range(len(y)):
            forms.setdefault((season, bool(positive[i])), []).append((b, i))
    points = [np.empty((len(y), horizon)) for y, _ in blocks]
    halves = [np.empty((len(y), horizon)) for y, _ in blocks]
    residuals = [np.full_like(y, np.nan) for y, _ in blocks]
    for (season, positive), members in forms.items():
        model = _statsforecast_model(method, season, positive=positive)
        point, half, fitted = _statsforecast_call([blocks[b][0][i] for b, i in members],
                                                  [blocks[b][1] for b, _ in members], horizon, model, level, native)
        for k, (b, i) in enumerate(members):
            points[b][i] = point[k]
            if native:
                halves[b][i] = half[k]
                residuals[b][i] = fitted[k]
    out = []
    for (y, _), point, half, resid in zip(blocks, points, halves, residuals):
        if native:
            out.append(clipped_forecast(point, half, resid))
            continue
        # intermittent methods forecast a flat level: errors are demand around that level
        resid = np.full_like(y, np.nan)
        resid[:, -SEASON:] = y[:, -SEASON:] - point[:, :1]
        sigma = np.sqrt(np.nanmean(resid ** 2, axis=1, keepdims=True))
        out.append(clipped_forecast(point, z_value(alpha) * sigma * np.ones((1, horizon)), resid))
    return out


def statsforecast_forecast(y: np.ndarray, months: pd.DatetimeIndex, horizon: int, method: str, *,
                           alpha: float = 0.2) -> BaseForecast:
    """One statsforecast model on every row of ``y`` (Naive where it cannot be fitted).

    Examples
    --------
    >>> months = pd.date_range("2023-01-01", periods=30, freq="MS")
    >>> y = np.full((1, 30), 5.0)
    >>> statsforecast_forecast(y, months, 2, "auto_ets").point.round(3).tolist()
    [[5.0, 5.0]]
    """
    return statsforecast_forecasts([(y, months)], horizon, method, alpha=alpha)[0]


def base_forecast(y: np.ndarray, months: pd.DatetimeIndex, horizon: int, method: str, *,
                  alpha: float = 0.2, window: int = 3, pool: np.ndarray | None = None) -> BaseForecast:
    """Forecast every row of ``y`` with one model (see the module docstring).

    Parameters
    ----------
    y : ndarray (n_series × n_months)
    months : DatetimeIndex
        The months of ``y``'s columns (monthly, first of month).
    horizon : int
    method : str
        One of ``MODELS``.
    alpha : float
        The interval covers ``1 - alpha``.
    window : int
        Months averaged by the moving average.
    pool : ndarray (n_series × n_months), optional
        Per series, the total its seasonality is pooled on (``pooled_seasonal`` only).

    Examples
    --------
    >>> months = pd.date_range("2023-01-01", periods=30, freq="MS")
    >>> y = 100 + 10 * np.cos(2 * np.pi * np.arange(30) / 12)[None, :]
    >>> base_forecast(y, months, 1, "seasonal_naive").point.round(1).tolist()  # month 31 = month 19
    [[90.0]]
    """
    return base_forecasts([(y, months, pool)], horizon, method, alpha=alpha, window=window)[0]


def base_forecasts(blocks, horizon: int, method: str, *, alpha: float = 0.2, window: int = 3) -> list[BaseForecast]:
    """:func:`base_forecast` of several blocks ``(y, months, pool)`` (e.g. a backtest's origins).

    The statsforecast models run once over the series of every block (on every core when
    there are many); each series is fitted on its own, so the forecasts are those of one
    :func:`base_forecast` per block.
    """
    blocks = list(blocks)
    if method in BASELINES:
        return [baseline_forecast(y, horizon, method, alpha=alpha, window=window) for y, _, _ in blocks]
    if method in STATSFORECAST_MODELS + INTERMITTENT_MODELS:
        if active() is not None:  # each series is fitted on its own: by groups of series on the cluster
            return [map_rows(statsforecast_forecast, np.asarray(y, float), months, horizon, method, alpha=alpha,
                             combine=stacked_forecast, min_rows=64) for y, months, _ in blocks]
        return statsforecast_forecasts([(y, months) for y, months, _ in blocks], horizon, method, alpha=alpha)
    if method == "pooled_seasonal":
        from crmlab.models.forecast.pooled import pooled_seasonal_forecasts

        return pooled_seasonal_forecasts(blocks, horizon, alpha=alpha)
    if method == "combination":
        parts = [base_forecasts(blocks, horizon, m, alpha=alpha, window=window) for m in COMBINED]
        return [mean_forecast(list(same_block)) for same_block in zip(*parts)]
    raise ValueError(f"unknown model {method!r}; use one of {MODELS}")
