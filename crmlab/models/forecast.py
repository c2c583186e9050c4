"""Channel demand forecast: sell-out and sell-in per distributor, region and nation.

Base models (each returns a point forecast and an 80 % interval per series):

* ``seasonal_naive`` — ``ŷ_{T+h} = y_{T+h-12k}``; interval from the seasonal differences.
* ``naive`` — ``ŷ_{T+h} = y_T``; interval ``± z σ₁ √h``, σ₁ the sd of first differences.
* ``moving_average`` — mean of the last ``window`` months; interval from its one-step errors.
* ``auto_ets``, ``auto_arima`` — statsforecast ``AutoETS`` / ``AutoARIMA`` with automatic
  selection by AICc, seasonal (period 12) once a series has two full years (ARIMA orders
  capped at p, q ≤ 2 and P, Q ≤ 1).
* ``combination`` — the mean of the seasonal naive, ETS and ARIMA forecasts (points,
  interval bounds and residuals): with 30-odd months no single model's choice is
  reliable, and the equal-weight combination is robust.
* ``croston``, ``tsb`` — statsforecast ``CrostonOptimized`` / ``TSB`` for intermittent
  series (a share of zero months of at least ``intermittent_zero_share``); their interval
  treats demand as independent around the forecast level.
* ``identity`` (sell-in only) — the inventory identity ``I_t = I_{t-1} + sell_in_t -
  sell_out_t``: forecast sell-out, hold the distributor's observed days-on-hand target
  (by month of the quarter, so quarter-end loading is kept) and order the difference:
  ``sell_in_t = F_t + I*_t - I*_{t-1}``, ``I*_t = doh_q(t) · mean(F_{t-2..t}) / days``.

A rolling-origin backtest scores every model by MASE (scaled by the in-sample seasonal
naive error), sMAPE and interval coverage; the model with the lowest mean MASE is chosen
per group (level × measure × intermittent or not) or per series. The chosen base
forecasts of all levels are made coherent by reconciliation, ``ỹ = S G ŷ``: bottom-up
(``G = [0 | I]``) or MinT-shrink (``G = (S' W⁻¹ S)⁻¹ S' W⁻¹`` with ``W`` the one-step
residual covariance shrunk towards its diagonal, Schäfer & Strimmer 2005, as in
Wickramasuriya, Athanasopoulos & Hyndman 2019). Negative reconciled distributor
forecasts are set to zero and the aggregates re-summed, so the result stays coherent.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from crmlab.features.forecast import hierarchy_series, summing_matrix

BASELINES = ("seasonal_naive", "naive", "moving_average")
STATSFORECAST_MODELS = ("auto_ets", "auto_arima")
INTERMITTENT_MODELS = ("croston", "tsb")
COMBINED = ("seasonal_naive", "auto_ets", "auto_arima")
MODELS = BASELINES + STATSFORECAST_MODELS + ("combination",) + INTERMITTENT_MODELS
FORECAST_MEASURES = ("sell_out", "sell_in")
SEASON = 12


@dataclass
class BaseForecast:
    """Forecasts of one model for a set of series (arrays of shape n_series × horizon)."""

    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    residuals: np.ndarray  # in-sample one-step errors, n_series × n_months (NaN where none)


def _z(level: float) -> float:
    return float(norm.ppf(0.5 + level / 200))


def _finish(point, half, residuals) -> BaseForecast:
    point = np.clip(point, 0, None)
    return BaseForecast(point, np.clip(point - half, 0, None), point + half, residuals)


def baseline_forecast(y: np.ndarray, horizon: int, method: str = "seasonal_naive", *,
                      level: float = 80, window: int = 3) -> BaseForecast:
    """Seasonal naive, naive or moving-average forecast of each row of ``y``.

    Parameters
    ----------
    y : ndarray (n_series × n_months)
        History, oldest month first. Seasonal naive needs 12 months and falls back to
        naive on shorter series.
    horizon : int
    method : {"seasonal_naive", "naive", "moving_average"}
    level : float
        Interval coverage in percent.
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
    z = _z(level)
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
    sigma = np.sqrt(np.nanmean(residuals ** 2, axis=1, keepdims=True))
    return _finish(point, z * np.nan_to_num(sigma) * growth[None, :], residuals)


def _statsforecast(y: np.ndarray, months: pd.DatetimeIndex, horizon: int, method: str,
                   level: float) -> BaseForecast:
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, AutoARIMA, AutoETS, CrostonOptimized, Naive

    n, n_m = y.shape
    season = SEASON if n_m >= 2 * SEASON else 1
    model = {"auto_ets": lambda: AutoETS(season_length=season, alias="m"),
             # orders capped: 30-odd months cannot support more, and it keeps 600 series fast
             "auto_arima": lambda: AutoARIMA(season_length=season, max_p=2, max_q=2, max_P=1, max_Q=1,
                                             start_p=1, start_q=1, start_P=0, start_Q=0,
                                             approximation=True, alias="m"),
             "croston": lambda: CrostonOptimized(alias="m"),
             "tsb": lambda: TSB(alpha_d=0.1, alpha_p=0.1, alias="m")}[method]()
    ids = np.char.zfill(np.arange(n).astype(str), 8)
    frame = pd.DataFrame({"unique_id": np.repeat(ids, n_m), "ds": np.tile(months.to_numpy(), n),
                          "y": y.ravel()})
    native = method in STATSFORECAST_MODELS
    # statsforecast logs and warns about short or constant series; crmlab handles those
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("statsforecast").setLevel(logging.ERROR)
        engine = StatsForecast(models=[model], freq="MS", n_jobs=1, fallback_model=Naive(alias="m"))
        out = engine.forecast(df=frame, h=horizon, level=[int(level)] if native else None, fitted=native)
        fitted = engine.forecast_fitted_values() if native else None
    order = out["unique_id"].astype(str).str.lstrip("0").replace("", "0").astype(int).to_numpy()
    point = np.empty((n, horizon))
    point[order.reshape(n, horizon)[:, 0]] = out["m"].to_numpy(float).reshape(n, horizon)
    if native:
        lower, upper = np.empty_like(point), np.empty_like(point)
        lower[order.reshape(n, horizon)[:, 0]] = out[f"m-lo-{int(level)}"].to_numpy(float).reshape(n, horizon)
        upper[order.reshape(n, horizon)[:, 0]] = out[f"m-hi-{int(level)}"].to_numpy(float).reshape(n, horizon)
        f_order = fitted["unique_id"].astype(str).str.lstrip("0").replace("", "0").astype(int).to_numpy()
        residuals = np.empty_like(y)
        residuals[f_order.reshape(n, n_m)[:, 0]] = (fitted["y"] - fitted["m"]).to_numpy(float).reshape(n, n_m)
        half = (upper - lower) / 2
        return _finish(point, half, residuals)
    # intermittent methods forecast a flat level: errors are demand around that level
    recent = y[:, -SEASON:]
    residuals = np.full_like(y, np.nan)
    residuals[:, -SEASON:] = recent - point[:, :1]
    sigma = np.sqrt(np.nanmean(residuals ** 2, axis=1, keepdims=True))
    return _finish(point, _z(level) * sigma * np.ones((1, horizon)), residuals)


def base_forecast(y: np.ndarray, months: pd.DatetimeIndex, horizon: int, method: str, *,
                  level: float = 80, window: int = 3) -> BaseForecast:
    """Forecast every row of ``y`` with one model (see the module docstring).

    Parameters
    ----------
    y : ndarray (n_series × n_months)
    months : DatetimeIndex
        The months of ``y``'s columns (monthly, first of month).
    horizon : int
    method : str
        One of ``MODELS``.

    Examples
    --------
    >>> months = pd.date_range("2023-01-01", periods=30, freq="MS")
    >>> y = 100 + 10 * np.cos(2 * np.pi * np.arange(30) / 12)[None, :]
    >>> base_forecast(y, months, 1, "seasonal_naive").point.round(1).tolist()
    [[110.0]]
    """
    if method in BASELINES:
        return baseline_forecast(y, horizon, method, level=level, window=window)
    if method in STATSFORECAST_MODELS + INTERMITTENT_MODELS:
        return _statsforecast(np.asarray(y, float), months, horizon, method, level)
    raise ValueError(f"unknown model {method!r}; use one of {MODELS}")


# ---------------------------------------------------------------- inventory identity
def _quarter_position(months: pd.DatetimeIndex) -> np.ndarray:
    """0 = first month of a quarter, 2 = quarter end (where loading happens)."""
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
    [[31.0, 30.0, 60.0]]
    """
    days = np.asarray(months.days_in_month, float)
    trailing = pd.DataFrame(sell_out.T).rolling(window, 1).mean().T.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        doh = np.where(trailing > 0, inventory / (trailing / days.mean()), np.nan)
    position = _quarter_position(months)
    targets = np.full((sell_out.shape[0], 3), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no inventory on file
        overall = np.nanmedian(doh, axis=1)
        for q in range(3):
            targets[:, q] = np.nanmedian(doh[:, position == q], axis=1) if (position == q).any() else np.nan
    targets = np.where(np.isnan(targets), overall[:, None], targets)
    return np.nan_to_num(targets, nan=0.0)


def identity_sell_in(sell_out_history: np.ndarray, inventory_history: np.ndarray,
                     sell_in_history: np.ndarray, months: pd.DatetimeIndex, sell_out: BaseForecast, *,
                     level: float = 80, window: int = 3) -> BaseForecast:
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
    target_stock = targets[:, _quarter_position(future)] * trailing[:, n_m:] / days_mean
    stock = np.nan_to_num(_last_valid(inventory_history))
    point = np.empty((n, horizon))
    for h in range(horizon):
        point[:, h] = np.clip(sell_out.point[:, h] + target_stock[:, h] - stock, 0, None)
        stock = stock + point[:, h] - sell_out.point[:, h]
    # in-sample error of the identity with the realised sell-out
    past_trailing = trailing[:, :n_m]
    past_target = targets[:, _quarter_position(months)] * past_trailing / days_mean
    previous = np.concatenate([np.full((n, 1), np.nan), inventory_history[:, :-1]], axis=1)
    residuals = sell_in_history - np.clip(sell_out_history + past_target - previous, 0, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma_identity = np.sqrt(np.nanmean(residuals ** 2, axis=1, keepdims=True))
    z = _z(level)
    sigma_out = (sell_out.upper - sell_out.lower) / (2 * z)
    carry = 1 + targets[:, _quarter_position(future)] / (window * days_mean)
    half = z * np.sqrt((sigma_out * carry) ** 2 + np.nan_to_num(sigma_identity) ** 2)
    return _finish(point, half, residuals)


def _last_valid(values: np.ndarray) -> np.ndarray:
    return pd.DataFrame(values.T).ffill().iloc[-1].to_numpy(float)


# ---------------------------------------------------------------- reconciliation
def shrunk_covariance(residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual covariance shrunk towards its diagonal (Schäfer & Strimmer 2005).

    Parameters
    ----------
    residuals : ndarray (n_series × n_months)
        One-step in-sample errors; months with a missing error in any series are dropped.

    Returns
    -------
    W : ndarray (n_series × n_series)
    lambda_ : float
        The shrinkage intensity, in [0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w, lam = shrunk_covariance(rng.normal(size=(3, 200)))
    >>> bool(0 <= lam <= 1), w.shape
    (True, (3, 3))
    """
    e = residuals[:, ~np.isnan(residuals).any(axis=0)].T  # months × series
    t, n = e.shape
    if t < 3:
        raise ValueError("MinT needs at least 3 months of one-step residuals in every series")
    e = e - e.mean(axis=0)
    cov = e.T @ e / t
    sd = np.sqrt(np.diag(cov))
    sd = np.where(sd > 0, sd, 1.0)
    x = e / sd  # standardised, so the target is the identity correlation
    corr = x.T @ x / t
    var_corr = ((x ** 2).T @ (x ** 2) / t - corr ** 2) * t / (t - 1) ** 2
    off = ~np.eye(n, dtype=bool)
    denom = (corr[off] ** 2).sum()
    lam = float(np.clip(var_corr[off].sum() / denom, 0, 1)) if denom > 0 else 1.0
    shrunk = (1 - lam) * corr
    np.fill_diagonal(shrunk, 1.0)
    w = shrunk * np.outer(sd, sd)
    # a series with zero residual variance would make W singular
    w[np.diag_indices(n)] = np.maximum(np.diag(w), 1e-6 * max(float(np.diag(cov).mean()), 1e-9))
    return w, lam


def reconcile(base: np.ndarray, s: np.ndarray, method: str = "mint",
              residuals: np.ndarray | None = None, bottom: np.ndarray | None = None) -> np.ndarray:
    """Coherent, non-negative forecasts of all series from base forecasts of all series.

    Parameters
    ----------
    base : ndarray (n_series × horizon)
        Base forecasts, rows in the order of ``s``.
    s : ndarray (n_series × n_bottom)
        Summing matrix.
    method : {"bottom_up", "mint"}
    residuals : ndarray (n_series × n_months)
        One-step in-sample errors of the base models (MinT only).
    bottom : ndarray of int, optional
        Rows of the bottom series (bottom-up only); default the last ``n_bottom`` rows.

    Returns
    -------
    ndarray
        ``S @ max(0, G @ base)``: adds up across levels by construction.

    Examples
    --------
    >>> s = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> reconcile(np.array([[10.0], [4.0], [5.0]]), s, "bottom_up").ravel().tolist()
    [9.0, 4.0, 5.0]
    """
    n_bottom = s.shape[1]
    if method == "bottom_up":
        rows = np.arange(len(base) - n_bottom, len(base)) if bottom is None else np.asarray(bottom)
        bottom = base[rows]
    elif method == "mint":
        if residuals is None:
            raise ValueError("MinT reconciliation needs the base models' residuals")
        w, _ = shrunk_covariance(residuals)
        w_inv_s = np.linalg.solve(w, s)
        bottom = np.linalg.solve(s.T @ w_inv_s, w_inv_s.T @ base)
    else:
        raise ValueError(f"unknown reconciliation {method!r}; use 'bottom_up' or 'mint'")
    return s @ np.clip(bottom, 0, None)


# ---------------------------------------------------------------- backtest
def mase_scale(y: np.ndarray) -> np.ndarray:
    """In-sample mean absolute seasonal difference (lag 12, or 1 on short series).

    Examples
    --------
    >>> mase_scale(np.array([[1.0, 2.0, 4.0]])).tolist()
    [1.5]
    """
    lag = SEASON if y.shape[1] > SEASON + 1 else 1
    scale = np.nanmean(np.abs(y[:, lag:] - y[:, :-lag]), axis=1)
    return np.where(scale > 0, scale, np.nan)


def rolling_origins(n_months: int, horizon: int, n_origins: int, step: int, min_train: int) -> list[int]:
    """Training lengths of the backtest origins, latest last; each scores ≤ ``horizon`` months.

    Examples
    --------
    >>> rolling_origins(36, 6, 4, 2, 24)
    [28, 30, 32, 34]
    """
    origins = [n_months - step * k for k in range(n_origins, 0, -1)]
    origins = [o for o in origins if o >= min_train and o < n_months]
    if not origins:
        raise ValueError(f"{n_months} months are too few for a backtest with at least {min_train} "
                         "months of training; lower min_train_months or give more history")
    return origins


def _scores(actual, point, lower, upper, scale) -> dict[str, np.ndarray]:
    err = np.abs(actual - point)
    with np.errstate(divide="ignore", invalid="ignore"):
        smape = np.where(np.abs(actual) + np.abs(point) > 0,
                         200 * err / (np.abs(actual) + np.abs(point)), 0.0)
        return {"abs_scaled_error": err / scale[:, None], "smape": smape,
                "covered": ((actual >= lower) & (actual <= upper)).astype(float)}


class ChannelForecaster:
    """Backtested, reconciled sell-out and sell-in forecasts for the channel hierarchy.

    Parameters
    ----------
    horizon_months : int
        Months forecast after the last month of data.
    models : tuple of str
        Candidate base models (``MODELS``); intermittent ones only run on sparse series.
    n_origins, origin_step : int
        Backtest origins: the last ``n_origins`` months spaced ``origin_step`` apart.
    min_train_months : int
        Shortest history a backtest origin may have.
    level : float
        Interval coverage in percent.
    selection : {"group", "series"}
        Choose the model per group (level × measure × intermittent) or per series.
    reconciliation : {"auto", "mint", "bottom_up"}
        ``auto`` keeps, per measure, the method with the lower backtest MASE.
    intermittent_zero_share : float
        A series with at least this share of zero months is intermittent.
    window : int
        Months in the trailing sell-out average behind days on hand.

    Attributes
    ----------
    keys_ : DataFrame
        The series of the hierarchy.
    backtest_ : DataFrame
        ``model, level, measure, mase, smape, coverage, n_series`` (reconciled methods
        appear as ``reconciled_bottom_up`` and ``reconciled_mint``).
    choice_ : DataFrame
        The chosen base model per series, with its backtest MASE and the seasonal naive's.
    reconciliation_ : dict
        The reconciliation method used per measure.
    forecast_ : DataFrame
        ``level, distributor_id, region, product_id, month, measure, model, forecast,
        lower, upper`` (reconciled; interval of the chosen base model shifted with it).
    base_forecast_ : DataFrame
        Same columns, unreconciled.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.forecast import forecast_panel
    >>> t = simulate("sample", seed=1).tables
    >>> panel = forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"])
    >>> fc = ChannelForecaster(horizon_months=3, models=("seasonal_naive", "naive")).fit(panel)
    >>> sorted(fc.forecast_["level"].unique())
    ['distributor', 'national', 'region']
    """

    def __init__(self, horizon_months: int = 6, models: tuple = MODELS, n_origins: int = 3,
                 origin_step: int = 2, min_train_months: int = 24, level: float = 80,
                 selection: str = "group", reconciliation: str = "auto",
                 intermittent_zero_share: float = 0.3, window: int = 3):
        self.horizon_months = horizon_months
        self.models = models
        self.n_origins = n_origins
        self.origin_step = origin_step
        self.min_train_months = min_train_months
        self.level = level
        self.selection = selection
        self.reconciliation = reconciliation
        self.intermittent_zero_share = intermittent_zero_share
        self.window = window

    # -------------------------------------------------------------- helpers
    def _check(self, panel: pd.DataFrame) -> None:
        missing = [c for c in ("distributor_id", "region", "product_id", "month", "sell_in", "sell_out",
                               "inventory") if c not in panel]
        if missing:
            raise ValueError(f"the forecast panel lacks column(s) {missing}; build it with "
                             "crmlab.features.forecast.forecast_panel")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; choose from {MODELS}")
        if self.selection not in ("group", "series"):
            raise ValueError(f"selection must be 'group' or 'series', got {self.selection!r}")
        if self.reconciliation not in ("auto", "mint", "bottom_up"):
            raise ValueError(f"reconciliation must be 'auto', 'mint' or 'bottom_up', got {self.reconciliation!r}")
        if self.horizon_months < 1:
            raise ValueError(f"horizon_months must be at least 1, got {self.horizon_months}")

    def _candidates(self, sparse: np.ndarray) -> dict[str, np.ndarray]:
        """Model → mask of the series it runs on."""
        out = {}
        for model in self.models:
            out[model] = sparse if model in INTERMITTENT_MODELS else np.ones_like(sparse)
        return {m: mask for m, mask in out.items() if mask.any()}

    def _forecast_all(self, values, months, horizon, candidates, sell_out_models=None):
        """Base forecasts of every candidate for both measures; identity from chosen sell-out."""
        out = {}
        for measure in FORECAST_MEASURES:
            y = values[measure]
            for model, mask in candidates[measure].items():
                if model in ("identity", "combination"):
                    continue
                fc = base_forecast(y[mask], months, horizon, model, level=self.level, window=self.window)
                out[(measure, model)] = (mask, fc)
            mask = candidates[measure].get("combination")
            if mask is not None:
                parts = []
                for model in COMBINED:
                    done = out.get((measure, model))
                    if done is not None and done[0].all():
                        fc = done[1]
                        parts.append(BaseForecast(fc.point[mask], fc.lower[mask], fc.upper[mask], fc.residuals[mask]))
                    else:
                        parts.append(base_forecast(y[mask], months, horizon, model, level=self.level,
                                                   window=self.window))
                out[(measure, "combination")] = (mask, BaseForecast(
                    *(np.mean([getattr(p, a) for p in parts], axis=0)
                      for a in ("point", "lower", "upper", "residuals"))))
        if sell_out_models is not None and "identity" in candidates["sell_in"]:
            sell_out = self._assemble(out, "sell_out", sell_out_models)
            fc = identity_sell_in(values["sell_out"], values["inventory"], values["sell_in"], months, sell_out,
                                  level=self.level, window=self.window)
            out[("sell_in", "identity")] = (np.ones(len(y), bool), fc)
        return out

    @staticmethod
    def _assemble(forecasts, measure, chosen: np.ndarray) -> BaseForecast:
        """One BaseForecast with, per series, the chosen model's rows."""
        first = next(fc for (m, _), (_, fc) in forecasts.items() if m == measure)
        n, horizon = len(chosen), first.point.shape[1]
        n_m = first.residuals.shape[1]
        parts = [np.full((n, horizon), np.nan) for _ in range(3)] + [np.full((n, n_m), np.nan)]
        for (m, model), (mask, fc) in forecasts.items():
            if m != measure:
                continue
            rows = np.flatnonzero(mask)
            take = chosen[rows] == model
            for part, source in zip(parts, (fc.point, fc.lower, fc.upper, fc.residuals)):
                part[rows[take]] = source[take]
        return BaseForecast(*parts)

    # -------------------------------------------------------------- fit
    def fit(self, panel: pd.DataFrame, y=None) -> ChannelForecaster:
        """Backtest, choose, fit on all months, forecast and reconcile."""
        self._check(panel)
        keys, months, values = hierarchy_series(panel, ("sell_out", "sell_in", "inventory"))
        s = summing_matrix(keys)
        n_m, horizon = len(months), self.horizon_months
        origins = rolling_origins(n_m, horizon, self.n_origins, self.origin_step, self.min_train_months)
        level_of = keys["level"].to_numpy()
        bottom_rows = np.flatnonzero(level_of == "distributor")
        candidates = {}
        for measure in FORECAST_MEASURES:
            sparse = (values[measure] <= 0).mean(axis=1) >= self.intermittent_zero_share
            candidates[measure] = self._candidates(sparse)
        if "identity" not in candidates["sell_in"]:
            candidates["sell_in"]["identity"] = np.ones(len(keys), bool)
        groups = {m: np.char.add(level_of.astype(str),
                                 np.where((values[m] <= 0).mean(axis=1) >= self.intermittent_zero_share,
                                          "|intermittent", "")) for m in FORECAST_MEASURES}

        # 1. backtest every base model at every origin
        records, per_origin = [], []
        for origin in origins:
            train = {m: v[:, :origin] for m, v in values.items()}
            actual = {m: v[:, origin:origin + horizon] for m, v in values.items()}
            h = actual["sell_out"].shape[1]
            fcs = self._forecast_all(train, months[:origin], h, candidates)
            per_origin.append((origin, train, actual, fcs))
            for (measure, model), (mask, fc) in fcs.items():
                sc = _scores(actual[measure][mask], fc.point, fc.lower, fc.upper, mase_scale(train[measure][mask]))
                records.append(pd.DataFrame({"series": np.flatnonzero(mask), "measure": measure, "model": model,
                                             "origin": origin, **{k: np.nanmean(v, axis=1) for k, v in sc.items()}}))
        scores = pd.concat(records, ignore_index=True)
        chosen = {"sell_out": self._choose(scores, "sell_out", groups, len(keys))}

        # 2. identity sell-in needs the chosen sell-out model at each origin
        for origin, train, actual, fcs in per_origin:
            sell_out = self._assemble(fcs, "sell_out", chosen["sell_out"])
            fc = identity_sell_in(train["sell_out"], train["inventory"], train["sell_in"], months[:origin],
                                  sell_out, level=self.level, window=self.window)
            fcs[("sell_in", "identity")] = (np.ones(len(keys), bool), fc)
            sc = _scores(actual["sell_in"], fc.point, fc.lower, fc.upper, mase_scale(train["sell_in"]))
            scores = pd.concat([scores, pd.DataFrame({
                "series": np.arange(len(keys)), "measure": "sell_in", "model": "identity", "origin": origin,
                **{k: np.nanmean(v, axis=1) for k, v in sc.items()}})], ignore_index=True)
        chosen["sell_in"] = self._choose(scores, "sell_in", groups, len(keys))

        # 3. reconciliation of the chosen base forecasts, backtested too
        for origin, train, actual, fcs in per_origin:
            for measure in FORECAST_MEASURES:
                base = self._assemble(fcs, measure, chosen[measure])
                for method in ("bottom_up", "mint"):
                    rec = reconcile(base.point, s, method, base.residuals, bottom_rows)
                    shift = rec - base.point
                    sc = _scores(actual[measure], rec, np.clip(base.lower + shift, 0, None), base.upper + shift,
                                 mase_scale(train[measure]))
                    scores = pd.concat([scores, pd.DataFrame({
                        "series": np.arange(len(keys)), "measure": measure, "model": f"reconciled_{method}",
                        "origin": origin, **{k: np.nanmean(v, axis=1) for k, v in sc.items()}})],
                        ignore_index=True)
        scores["level"] = level_of[scores["series"].to_numpy()]
        self.scores_ = scores
        self.backtest_ = (scores.groupby(["model", "level", "measure"], sort=False)
                          .agg(mase=("abs_scaled_error", "mean"), smape=("smape", "mean"),
                               coverage=("covered", "mean"), n_series=("series", "nunique"))
                          .reset_index())
        self.reconciliation_ = {}
        for measure in FORECAST_MEASURES:
            if self.reconciliation != "auto":
                self.reconciliation_[measure] = self.reconciliation
                continue
            rec = scores[(scores["measure"] == measure) & scores["model"].str.startswith("reconciled_")]
            by_level = rec.groupby(["model", "level"])["abs_scaled_error"].mean().groupby("model").mean()
            self.reconciliation_[measure] = by_level.idxmin().removeprefix("reconciled_")

        # 4. final fit on every month, chosen models only
        final_candidates = {m: {model: chosen[m] == model for model in np.unique(chosen[m])}
                            for m in FORECAST_MEASURES}
        fcs = self._forecast_all(values, months, horizon, final_candidates, sell_out_models=chosen["sell_out"])
        future = pd.date_range(months[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
        frames, base_frames = [], []
        for measure in FORECAST_MEASURES:
            base = self._assemble(fcs, measure, chosen[measure])
            rec = reconcile(base.point, s, self.reconciliation_[measure], base.residuals, bottom_rows)
            shift = rec - base.point
            base_frames.append(self._long(keys, future, measure, chosen[measure], base.point, base.lower,
                                          base.upper))
            frames.append(self._long(keys, future, measure, chosen[measure], rec,
                                     np.clip(base.lower + shift, 0, None), np.clip(base.upper + shift, 0, None)))
        self.keys_, self.months_, self.summing_matrix_ = keys, months, s
        self.origins_ = origins
        self.chosen_ = chosen
        self.forecast_ = pd.concat(frames, ignore_index=True)
        self.base_forecast_ = pd.concat(base_frames, ignore_index=True)
        self.choice_ = self._choice_table(scores, keys, chosen, groups)
        return self

    def _choose(self, scores: pd.DataFrame, measure: str, groups: dict, n: int) -> np.ndarray:
        mine = scores[(scores["measure"] == measure) & ~scores["model"].str.startswith("reconciled_")]
        per_series = mine.groupby(["series", "model"])["abs_scaled_error"].mean().unstack()
        chosen = np.empty(n, dtype=object)
        if self.selection == "series":
            filled = per_series.fillna(np.inf)
            chosen[:] = filled.idxmin(axis=1).reindex(range(n)).fillna("seasonal_naive").to_numpy()
            return chosen
        group = pd.Series(groups[measure])
        for name, rows in group.groupby(group).groups.items():
            table = per_series.reindex(rows)
            complete = table.loc[:, table.notna().any()]
            means = complete.mean(skipna=True)
            chosen[np.asarray(rows)] = means.idxmin() if len(means.dropna()) else "seasonal_naive"
        return chosen

    def _choice_table(self, scores, keys, chosen, groups) -> pd.DataFrame:
        base = scores[~scores["model"].str.startswith("reconciled_")]
        per_series = base.groupby(["measure", "series", "model"])["abs_scaled_error"].mean()
        rows = []
        for measure in FORECAST_MEASURES:
            table = per_series.loc[measure].unstack()
            frame = keys[["series_id", "level", "region", "distributor_id", "product_id"]].copy()
            frame["measure"] = measure
            frame["group"] = groups[measure]
            frame["model"] = chosen[measure]
            frame["mase_chosen"] = [table.at[i, m] if m in table else np.nan for i, m in enumerate(chosen[measure])]
            frame["mase_seasonal_naive"] = table["seasonal_naive"].reindex(range(len(keys))).to_numpy() \
                if "seasonal_naive" in table else np.nan
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    @staticmethod
    def _long(keys, future, measure, chosen, point, lower, upper) -> pd.DataFrame:
        n, horizon = point.shape
        frame = keys.loc[keys.index.repeat(horizon), ["level", "distributor_id", "region", "product_id"]] \
            .reset_index(drop=True)
        frame["month"] = np.tile(future.to_numpy(), n)
        frame["measure"] = measure
        frame["model"] = np.repeat(chosen, horizon)
        frame["forecast"] = point.ravel()
        frame["lower"] = lower.ravel()
        frame["upper"] = upper.ravel()
        return frame

    # -------------------------------------------------------------- summaries
    def summary(self) -> dict:
        """Chosen models and backtest accuracy against seasonal naive, per level and measure.

        Examples
        --------
        >>> fc.summary()["reconciliation"]  # doctest: +SKIP
        {'sell_out': 'mint', 'sell_in': 'bottom_up'}
        """
        chosen = (self.choice_.groupby(["measure", "level", "model"]).size().rename("n_series")
                  .reset_index())
        bt = self.backtest_.set_index(["model", "level", "measure"])["mase"]
        accuracy = []
        for (measure, level), rows in self.choice_.groupby(["measure", "level"]):
            rec = f"reconciled_{self.reconciliation_[measure]}"
            accuracy.append({"measure": measure, "level": level,
                             "mase_chosen": float(rows["mase_chosen"].mean()),
                             "mase_reconciled": float(bt.get((rec, level, measure), np.nan)),
                             "mase_seasonal_naive": float(rows["mase_seasonal_naive"].mean())})
        return {"horizon_months": self.horizon_months, "backtest_origins": [str(self.months_[o - 1].date())
                                                                            for o in self.origins_],
                "reconciliation": self.reconciliation_,
                "chosen_models": chosen.to_dict(orient="records"),
                "backtest_vs_seasonal_naive": accuracy}


def holdout_evaluation(panel: pd.DataFrame, forecaster: ChannelForecaster) -> pd.DataFrame:
    """Accuracy on the last ``horizon_months`` months, which the models never see.

    Fits ``forecaster`` on the panel without its last ``horizon_months`` months and
    scores the reconciled forecast, the chosen base forecast and the seasonal naive
    forecast against the withheld months (MASE scaled on the training months).

    Returns
    -------
    DataFrame
        ``method, level, measure, mase, smape, coverage, n_series``.

    Examples
    --------
    >>> holdout_evaluation(panel, ChannelForecaster(horizon_months=6))  # doctest: +SKIP
    """
    months = np.sort(panel["month"].unique())
    horizon = forecaster.horizon_months
    cut = months[-horizon]
    fitted = forecaster.fit(panel[panel["month"] < cut])
    keys, _, values = hierarchy_series(panel, FORECAST_MEASURES)
    n_train = len(months) - horizon
    rows = []
    for measure in FORECAST_MEASURES:
        actual = values[measure][:, n_train:]
        scale = mase_scale(values[measure][:, :n_train])
        naive = baseline_forecast(values[measure][:, :n_train], horizon, "seasonal_naive", level=forecaster.level)
        methods = {"seasonal_naive": (naive.point, naive.lower, naive.upper)}
        for name, table in (("chosen_reconciled", fitted.forecast_), ("chosen_base", fitted.base_forecast_)):
            mine = table[table["measure"] == measure]
            methods[name] = tuple(mine[c].to_numpy(float).reshape(len(keys), horizon)
                                  for c in ("forecast", "lower", "upper"))
        for name, (point, lower, upper) in methods.items():
            sc = _scores(actual, point, lower, upper, scale)
            frame = pd.DataFrame({"level": keys["level"], **{k: np.nanmean(v, axis=1) for k, v in sc.items()}})
            for level, part in frame.groupby("level", sort=False):
                rows.append({"method": name, "level": level, "measure": measure,
                             "mase": part["abs_scaled_error"].mean(), "smape": part["smape"].mean(),
                             "coverage": part["covered"].mean(), "n_series": len(part)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- channel policy and health
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
