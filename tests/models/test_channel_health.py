"""Channel health: recovery of the planted ordering policy, flags on planted stocking up and returns."""

import pandas as pd
import pytest

from crmlab.features.forecast import forecast_panel
from crmlab.models.channel_health import channel_health, estimate_channel_policy
from crmlab.simulate import simulate
from worlds import channel_panel


@pytest.fixture(scope="module")
def sample():
    return simulate("sample", seed=7)


@pytest.fixture(scope="module")
def demo():
    return simulate("demo", seed=7)


@pytest.fixture(scope="module")
def demo_panel(demo):
    return channel_panel(demo)


# ------------------------------------------------------------------ planted channel policy
def test_channel_policy_recovers_lots_and_days_on_hand_target(demo, demo_panel):
    """Lots are recovered exactly; the order-up-to target within days, where the naive
    reading (median observed days on hand) is biased up by the lot rounding."""
    policy = estimate_channel_policy(demo.tables["shipments"], demo_panel)
    truth = pd.DataFrame(demo.truth["channel"]["policy"])
    both = policy.merge(truth, on=["distributor_id", "product_id"], suffixes=("", "_true"))
    assert len(both) == 48
    assert (both["lot"] == both["lot_true"]).all()
    error = both["target_days_on_hand"] - both["target_days_on_hand_true"]
    # measured on demo seed 7: median |error| 0.52 days, max 5.2, bias -0.4
    assert error.abs().median() < 1.5
    assert error.abs().max() < 8
    assert abs(error.mean()) < 1.5
    naive = demo_panel.groupby(["distributor_id", "product_id"])["days_on_hand"].median().reset_index() \
        .merge(truth, on=["distributor_id", "product_id"])
    naive_bias = (naive["days_on_hand"] - naive["target_days_on_hand"]).mean()
    assert naive_bias > 4  # measured 6.6 days: lots round every order up


# ------------------------------------------------------------------ channel health
def test_health_flags_planted_stocking_up_and_returns(sample):
    t = {k: v.copy() for k, v in sample.tables.items()}
    last = t["shipments"]["date"].max()
    months = pd.date_range(last - pd.offsets.MonthBegin(3), periods=3, freq="MS")
    # DS0003 P01 loads 80 % of its monthly sell-out on top of its orders for 3 months
    monthly = t["sales"].query("distributor_id == 'DS0003' and product_id == 'P01'")["units"].sum() / 36
    extra = pd.DataFrame({"date": months + pd.Timedelta(days=10), "distributor_id": "DS0003",
                          "product_id": "P01", "units": round(0.8 * monthly)})
    back = pd.DataFrame({"date": [months[-1] + pd.Timedelta(days=20)], "distributor_id": ["DS0005"],
                         "product_id": ["P02"], "units": [-60.0]})
    t["shipments"] = pd.concat([t["shipments"], extra, back], ignore_index=True)
    stock = t["inventory"]
    add = pd.Series(0.0, index=stock.index)
    for k, month in enumerate(months):
        hit = (stock["distributor_id"] == "DS0003") & (stock["product_id"] == "P01") & \
              (stock["date"].dt.to_period("M") == month.to_period("M"))
        add[hit] = (k + 1) * round(0.8 * monthly)
    t["inventory"] = stock.assign(units_on_hand=stock["units_on_hand"] + add)
    panel = forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"],
                           products=t["products"])
    health = channel_health(panel).set_index(["distributor_id", "product_id"])
    assert health.loc[("DS0003", "P01"), "stocking_up"]
    assert health.loc[("DS0003", "P01"), "overstocked"]
    assert health.loc[("DS0005", "P02"), "unusual_returns"]
    # without the planted loading the same distributor is healthy on both counts
    plain = channel_health(channel_panel(sample)).set_index(["distributor_id", "product_id"])
    assert not plain.loc[("DS0003", "P01"), "stocking_up"]
    assert plain["stocking_up"].mean() <= 0.25


