"""Channel demand forecast: sell-out and sell-in per distributor, region and nation.

One module per idea:

* :mod:`~crmlab.models.forecast.base` — base models (baselines, statsforecast ETS/ARIMA,
  Croston/TSB, their combination);
* :mod:`~crmlab.models.forecast.identity` — sell-in through the inventory identity;
* :mod:`~crmlab.models.forecast.reconciliation` — bottom-up and MinT-shrink;
* :mod:`~crmlab.models.forecast.pooled` — seasonality pooled across a product's series;
* :mod:`~crmlab.models.forecast.scoring` — MASE, rolling origins, tie-aware model choice;
* :mod:`~crmlab.models.forecast.intervals` — conformal intervals from backtest errors;
* :mod:`~crmlab.models.forecast.forecaster` — :class:`ChannelForecaster`, which backtests,
  chooses, reconciles and forecasts;
* :mod:`~crmlab.models.forecast.holdout` — accuracy on months the models never saw.

Channel health (days on hand, stocking up) is not a forecast: :mod:`crmlab.models.channel_health`.
"""

from crmlab.models.forecast.base import (BASELINES, DEFAULT_MODELS, MODELS, PREFERENCE, BaseForecast, base_forecast,
                                         baseline_forecast, statsforecast_forecast)
from crmlab.models.forecast.forecaster import FORECAST_MEASURES, ChannelForecaster
from crmlab.models.forecast.holdout import holdout_evaluation
from crmlab.models.forecast.identity import days_on_hand_targets, identity_sell_in
from crmlab.models.forecast.reconciliation import reconcile, shrunk_covariance
from crmlab.models.forecast.scoring import choose_model, forecast_scores, mase_scale, rolling_origins

__all__ = ["BASELINES", "DEFAULT_MODELS", "FORECAST_MEASURES", "MODELS", "PREFERENCE", "BaseForecast", "ChannelForecaster",
           "base_forecast", "baseline_forecast", "choose_model", "days_on_hand_targets", "forecast_scores",
           "holdout_evaluation", "identity_sell_in", "mase_scale", "reconcile", "rolling_origins",
           "shrunk_covariance", "statsforecast_forecast"]
