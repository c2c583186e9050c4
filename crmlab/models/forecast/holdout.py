"""Hold-out accuracy: fit without the last months, score the forecast of those months."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crmlab.features.forecast import hierarchy_series
from crmlab.models.forecast.base import base_forecast
from crmlab.models.forecast.forecaster import ChannelForecaster
from crmlab.models.forecast.scoring import forecast_scores, mase_scale

#: Single models every hold-out also scores on each series, as yardsticks.
YARDSTICKS = ("seasonal_naive", "auto_ets")


def holdout_evaluation(panel: pd.DataFrame, forecaster: ChannelForecaster, *, n_windows: int = 1,
                       window_step: int | None = None, yardsticks: tuple[str, ...] = YARDSTICKS) -> pd.DataFrame:
    """Accuracy on the last ``horizon_months`` months, which the models never see.

    Fits ``forecaster`` on the panel without its last ``horizon_months`` months and
    scores the reconciled forecast, the chosen base forecast and each yardstick model
    (by default seasonal naive and statsforecast's AutoETS alone, on every series)
    against the withheld months, MASE scaled on the training months. With
    ``n_windows > 1`` it does so again for hold-out windows ending ``window_step``
    months earlier each (default ``horizon_months``: windows that do not overlap), and
    averages over series and windows.

    Returns
    -------
    DataFrame
        ``method, level, measure, mase, smape, coverage, n_series, n_windows``.

    Examples
    --------
    >>> holdout_evaluation(panel, ChannelForecaster(horizon_months=6))  # doctest: +SKIP
    """
    months = np.sort(panel["month"].unique())
    horizon = forecaster.horizon_months
    step = window_step or horizon
    records = []
    for window in range(n_windows):
        n_train = len(months) - horizon - window * step
        train_panel = panel[panel["month"] < months[n_train]]
        fitted = forecaster.fit(train_panel)
        keys, history, values = hierarchy_series(panel, fitted.measures_)
        for measure in fitted.measures_:
            train = values[measure][:, :n_train]
            actual = values[measure][:, n_train:n_train + horizon]
            scale = mase_scale(train)
            methods = {}
            for name, table in (("chosen_reconciled", fitted.forecast_), ("chosen_base", fitted.base_forecast_)):
                mine = table[table["measure"] == measure]
                methods[name] = tuple(mine[c].to_numpy(float).reshape(len(keys), horizon)
                                      for c in ("forecast", "lower", "upper"))
            for name in yardsticks:
                fc = base_forecast(train, history[:n_train], horizon, name, alpha=forecaster.alpha)
                methods[name] = (fc.point, fc.lower, fc.upper)
            for name, (point, lower, upper) in methods.items():
                sc = forecast_scores(actual, point, lower, upper, scale)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a series with no scale: NaN
                    means = {k: np.nanmean(v, axis=1) for k, v in sc.items()}
                records.append(pd.DataFrame({"method": name, "level": keys["level"], "measure": measure,
                                             "series": keys["series_id"], "window": window, **means}))
    scores = pd.concat(records, ignore_index=True)
    return (scores.groupby(["method", "level", "measure"], sort=False)
            .agg(mase=("abs_scaled_error", "mean"), smape=("smape", "mean"), coverage=("covered", "mean"),
                 n_series=("series", "nunique"), n_windows=("window", "nunique"))
            .reset_index())
