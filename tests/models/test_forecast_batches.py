"""Forecasts run in one statsforecast call over many blocks, on several processes, equal
the forecasts of one call per block in one process (issue 15: national forecast in a minute)."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from crmlab.models.forecast import ChannelForecaster
from crmlab.models.forecast.base import base_forecast, base_forecasts

BASE = importlib.import_module("crmlab.models.forecast.base")


def _series(n: int, n_months: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(n_months) / 12)
    y = rng.gamma(5, 20, size=(n, 1)) * season * rng.lognormal(0, 0.15, size=(n, n_months))
    y[0, 3] = 0.0  # a zero month: damped ETS goes additive on this one
    y[1, ::3] = 0.0  # intermittent
    return np.round(y)


def _same(left, right):
    for part in ("point", "lower", "upper", "residuals"):
        np.testing.assert_array_equal(getattr(left, part), getattr(right, part), err_msg=part)


@pytest.mark.parametrize("method", ["auto_ets", "damped_ets", "auto_arima", "pooled_seasonal", "combination",
                                    "croston", "tsb"])
def test_one_run_over_blocks_equals_one_run_per_block(method, monkeypatch):
    months = pd.date_range("2022-01-01", periods=34, freq="MS")
    y = _series(6, 34, seed=3)
    pool = np.repeat(y.sum(axis=0, keepdims=True), 6, axis=0)
    blocks = [(y[:, :origin], months[:origin], pool[:, :origin]) for origin in (26, 28, 30)]
    separately = [base_forecast(b, m, 4, method, pool=p) for b, m, p in blocks]
    monkeypatch.setattr(BASE, "PARALLEL_MIN_SERIES", 1)  # every call on every core
    together = base_forecasts(blocks, 4, method)
    assert len(together) == 3
    for one, other in zip(separately, together):
        _same(one, other)


def test_jobs_follow_the_size_of_the_call(monkeypatch):
    monkeypatch.setattr(BASE.os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    assert BASE.statsforecast_jobs(BASE.PARALLEL_MIN_SERIES - 1) == 1
    assert BASE.statsforecast_jobs(BASE.PARALLEL_MIN_SERIES) == 2


def test_forecaster_is_the_same_on_one_or_several_processes(monkeypatch):
    from crmlab.features.forecast import forecast_panel
    from crmlab.simulate import simulate

    t = simulate("sample", seed=1).tables
    panel = forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"])
    settings = dict(horizon_months=3, models=("seasonal_naive", "auto_ets", "damped_ets", "pooled_seasonal",
                                              "combination"), n_origins=3)
    monkeypatch.setattr(BASE, "PARALLEL_MIN_SERIES", 10**9)
    one = ChannelForecaster(**settings).fit(panel)
    monkeypatch.setattr(BASE, "PARALLEL_MIN_SERIES", 1)
    several = ChannelForecaster(**settings).fit(panel)
    for name in ("forecast_", "base_forecast_", "backtest_", "choice_", "intervals_"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(several, name), check_exact=True, obj=name)


def test_large_groups_choose_on_a_sample_and_backtest_the_chosen_model_on_every_series():
    from crmlab.features.forecast import forecast_panel
    from crmlab.simulate import simulate

    t = simulate("sample", seed=1).tables
    panel = forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"])
    settings = dict(horizon_months=3, models=("seasonal_naive", "naive", "damped_ets", "pooled_seasonal"),
                    n_origins=2, reconciliation="bottom_up")
    every = ChannelForecaster(choice_sample=0, **settings).fit(panel)
    sampled = ChannelForecaster(choice_sample=6, random_state=3, **settings).fit(panel)
    scored = sampled.scores_[(sampled.scores_["origin"] == sampled.origins_[-1])
                             & ~sampled.scores_["model"].str.startswith("reconciled_")]
    sizes = every.keys_["level"].value_counts()
    assert sizes["distributor"] > 6
    for measure in ("sell_out", "sell_in"):
        choice = sampled.choice_[sampled.choice_["measure"] == measure]
        for model, rows in scored[scored["measure"] == measure].groupby("model"):
            # per group: the rules run on every series; a model that takes time on 6, unless chosen
            expected = sum(len(members) if model in ("seasonal_naive", "naive", "identity")
                           or (members["model"] == model).all() else min(len(members), 6)
                           for _, members in choice.groupby("group"))
            assert rows["series"].nunique() == expected, (measure, model)
    assert sampled.choice_["mase_chosen"].notna().all()
    assert sampled.choice_["mase_seasonal_naive"].notna().all()
    # the sample only decides the model: with the same choice, the same forecasts
    assert (sampled.choice_["model"] == every.choice_["model"]).all()
    pd.testing.assert_frame_equal(sampled.forecast_, every.forecast_, check_exact=True)
    with pytest.raises(ValueError, match="choice_sample"):
        ChannelForecaster(choice_sample=-1).fit(panel)
