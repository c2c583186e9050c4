"""Channel series for the forecast: the hierarchy adds up, returns are kept, missing tables named."""

import numpy as np
import pandas as pd
import pytest

from crmlab.features.forecast import (channel_hierarchy_panel, forecast_panel, hierarchy_series, missing_flows,
                                      summing_matrix)
from crmlab.simulate import simulate
from worlds import channel_panel


@pytest.fixture(scope="module")
def sample():
    return simulate("sample", seed=7)


# ------------------------------------------------------------------ features
def test_hierarchy_adds_up_and_keeps_returns(sample):
    panel = channel_panel(sample)
    keys, months, values = hierarchy_series(panel)
    assert len(months) == 36
    assert set(panel["product_id"]) == {"P01", "P02"}  # the competitor C01 is dropped
    s = summing_matrix(keys)
    bottom = (keys["level"] == "distributor").to_numpy()
    np.testing.assert_allclose(values["sell_out"], s @ values["sell_out"][bottom])
    national = keys.index[keys["level"] == "national"]
    totals = sample.tables["sales"].query("product_id in ['P01', 'P02']").groupby("product_id")["units"].sum()
    np.testing.assert_allclose(values["sell_out"][national].sum(axis=1), totals.to_numpy())
    negative = sample.tables["shipments"].query("units < 0")["units"].sum()
    assert panel["returns"].sum() == pytest.approx(-negative)
    totals_panel = channel_hierarchy_panel(panel)
    assert set(totals_panel["level"]) == {"national", "region", "distributor"}
    assert totals_panel.loc[totals_panel["level"] == "national", "days_on_hand"].notna().all()


def test_missing_table_says_which(sample):
    """Any one flow may be missing: the panel keeps the others, and says which is missing why."""
    t = sample.tables
    no_stock = forecast_panel(t["shipments"], t["sales"], t["inventory"].iloc[:0])
    assert {"sell_in", "sell_out"} <= set(no_stock) and "inventory" not in no_stock
    assert "'inventory'" in repr(missing_flows(t["shipments"], t["sales"], t["inventory"].iloc[:0]))
    sell_in_only = forecast_panel(t["shipments"], t["sales"].drop(columns="distributor_id"), t["inventory"])
    assert "sell_out" not in sell_in_only and "days_on_hand" not in sell_in_only
    assert "distributor_id" in missing_flows(t["shipments"], t["sales"].drop(columns="distributor_id"),
                                             None)["sell_out"]
    with pytest.raises(ValueError, match="distributor_id"):
        forecast_panel(None, t["sales"].drop(columns="distributor_id"), t["inventory"])
    with pytest.raises(ValueError, match="units_on_hand"):
        forecast_panel(t["shipments"], t["sales"], t["inventory"].drop(columns="units_on_hand"))


def test_sell_out_only_panel_has_the_same_sell_out(sample):
    t = sample.tables
    full = channel_panel(sample)
    only = forecast_panel(None, t["sales"], None, distributors=t["distributors"], products=t["products"])
    assert list(only.columns) == ["distributor_id", "region", "product_id", "month", "sell_out", "account_returns"]
    pd.testing.assert_frame_equal(only, full[only.columns])


def test_string_dtype_ids_give_the_same_panel(sample):
    t = sample.tables
    as_string = {k: t[k].astype({c: "string" for c in t[k] if c.endswith("_id")})
                 for k in ("shipments", "sales", "inventory", "distributors")}
    a = channel_panel(sample)
    b = forecast_panel(as_string["shipments"], as_string["sales"], as_string["inventory"],
                       distributors=as_string["distributors"], products=t["products"])
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


