"""Hold-out accuracy: fit without the last months, score the forecast of those months."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.forecast import hierarchy_series
from crmlab.models.forecast.base import baseline_forecast
from crmlab.models.forecast.forecaster import FORECAST_MEASURES, ChannelForecaster
from crmlab.models.forecast.scoring import forecast_scores, mase_scale


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
        naive = baseline_forecast(values[measure][:, :n_train], horizon, "seasonal_naive", alpha=forecaster.alpha)
        methods = {"seasonal_naive": (naive.point, naive.lower, naive.upper)}
        for name, table in (("chosen_reconciled", fitted.forecast_), ("chosen_base", fitted.base_forecast_)):
            mine = table[table["measure"] == measure]
            methods[name] = tuple(mine[c].to_numpy(float).reshape(len(keys), horizon)
                                  for c in ("forecast", "lower", "upper"))
        for name, (point, lower, upper) in methods.items():
            sc = forecast_scores(actual, point, lower, upper, scale)
            frame = pd.DataFrame({"level": keys["level"], **{k: np.nanmean(v, axis=1) for k, v in sc.items()}})
            for level, part in frame.groupby("level", sort=False):
                rows.append({"method": name, "level": level, "measure": measure,
                             "mase": part["abs_scaled_error"].mean(), "smape": part["smape"].mean(),
                             "coverage": part["covered"].mean(), "n_series": len(part)})
    return pd.DataFrame(rows)

