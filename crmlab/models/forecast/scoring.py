"""Backtest scoring and model choice: MASE, sMAPE, coverage, rolling origins, tie-aware selection."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.models.forecast.base import PREFERENCE, SEASON


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
    """Training lengths of the backtest origins, latest last, each followed by the full horizon.

    Every origin that leaves ``horizon`` months to score and has at least ``min_train``
    months of history, spaced ``step`` months apart back from the latest; the latest
    ``n_origins`` of them (0: all).

    Examples
    --------
    >>> rolling_origins(36, 6, 0, 2, 24)
    [24, 26, 28, 30]
    >>> rolling_origins(36, 6, 2, 2, 24)
    [28, 30]
    """
    origins = list(range(n_months - horizon, min_train - 1, -step))[::-1]
    if n_origins > 0:
        origins = origins[-n_origins:]
    if not origins:
        raise ValueError(f"{n_months} months are too few for a backtest: each origin needs min_train_months "
                         f"({min_train}) of history and horizon_months ({horizon}) to score; lower "
                         "min_train_months or horizon_months, or give more history")
    return origins


def forecast_scores(actual, point, lower, upper, scale) -> dict[str, np.ndarray]:
    """Per series and month: absolute error scaled by ``scale`` (MASE), sMAPE (%), covered.

    Examples
    --------
    >>> sc = forecast_scores(np.array([[10.0]]), np.array([[8.0]]), np.array([[7.0]]),
    ...                      np.array([[9.0]]), np.array([4.0]))
    >>> sc["abs_scaled_error"].tolist(), sc["covered"].tolist()
    ([[0.5]], [[0.0]])
    """
    err = np.abs(actual - point)
    with np.errstate(divide="ignore", invalid="ignore"):
        smape = np.where(np.abs(actual) + np.abs(point) > 0,
                         200 * err / (np.abs(actual) + np.abs(point)), 0.0)
        return {"abs_scaled_error": err / scale[:, None], "smape": smape,
                "covered": ((actual >= lower) & (actual <= upper)).astype(float)}



def choose_model(mase: pd.Series, tolerance: float = 0.05,
                 preference: tuple[str, ...] = PREFERENCE) -> tuple[str, list[str]]:
    """The model to use given backtest scores, with the models tied with the best.

    Scores within ``tolerance`` (relative) of the lowest are ties: differences that small
    are noise of the backtest, and even of the machine's floating-point kernel. A tie
    goes to the first of the tied models in ``preference`` (simplest first), so a
    complex model is chosen only when it wins clearly.

    Parameters
    ----------
    mase : Series
        Model → mean backtest MASE (NaN: not scored).
    tolerance : float
        ``0.05``: within 5 % of the best is a tie.
    preference : tuple of str
        Tie-break order; models not listed come last, alphabetically.

    Returns
    -------
    chosen : str
    tied : list of str
        Every model within the tolerance, in preference order (the chosen one first).

    Examples
    --------
    >>> choose_model(pd.Series({"auto_arima": 0.578, "combination": 0.585, "naive": 1.1}))
    ('combination', ['combination', 'auto_arima'])
    >>> choose_model(pd.Series({"seasonal_naive": 0.60, "auto_arima": 0.578}))
    ('seasonal_naive', ['seasonal_naive', 'auto_arima'])
    >>> choose_model(pd.Series({"seasonal_naive": 0.70, "auto_arima": 0.578}))
    ('auto_arima', ['auto_arima'])
    """
    scored = mase.dropna()
    if not len(scored):
        return preference[0], []
    best = float(scored.min())
    tied = scored.index[scored <= best * (1 + tolerance) + 1e-12]
    rank = {name: i for i, name in enumerate(preference)}
    ordered = sorted(tied, key=lambda name: (rank.get(name, len(rank)), name))
    return ordered[0], list(ordered)

