"""The drivers analysis: the bridge adds up, sales-only data work at account level, bad parameters are named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.analyses import drivers
from crmlab.analyses.base import ParameterError
from crmlab.config import SAMPLE_DIR
from crmlab.features.drivers import DRIVERS, split_change, status, windows
from crmlab.io import load


@pytest.fixture(scope="module")
def sample():
    return load(SAMPLE_DIR)


@pytest.fixture(scope="module")
def result(sample):
    return drivers.run(sample)


def _wide(result):
    return result.bridge.pivot_table(index=["level", "unit_id", "product_id"], columns="driver", values="change")


def test_bridge_adds_up_in_every_unit_and_level(result):
    wide = _wide(result)
    assert set(wide.columns) == {*DRIVERS, "total"}
    assert np.allclose(wide.drop(columns="total").sum(axis=1), wide["total"], atol=1e-6)
    b = result.bridge
    assert set(b["level"]) == {"national", "region", "territory"}
    assert list(b.columns) == ["level", "unit_id", "product_id", "driver", "change", "lower", "upper"]
    # one total row per unit and product; the all-products rows have an empty product
    assert (b[b["driver"] == "total"].groupby(["level", "unit_id", "product_id"]).size() == 1).all()
    assert {"", "P01", "P02"} == set(b["product_id"])
    # regions sum to the nation, territories to their region
    national = wide.loc["national"].loc[""].loc[""]
    regions = wide.loc["region"].xs("", level="product_id")
    assert np.allclose(regions.sum(), national)
    # bounds bracket the estimates
    assert (b["lower"] <= b["change"] + 1e-9).all() and (b["upper"] >= b["change"] - 1e-9).all()


def test_total_is_sell_in_and_channel_stock_is_its_gap_to_sell_out(result, sample):
    assert result.outcome == "sell_in"
    ship = sample.shipments[sample.shipments["product_id"].isin(result.products)]
    month = ship["date"].dt.to_period("M").dt.to_timestamp()
    change = ship.loc[month.isin(result.current), "units"].sum() - ship.loc[month.isin(result.comparison),
                                                                            "units"].sum()
    assert result.national()["total"] == pytest.approx(change)


def test_scorecard_per_rep_and_territory_per_month(result):
    card = result.scorecard
    assert set(card["level"]) == {"territory", "rep"}
    assert set(card["month"]) == {f"{m:%Y-%m}" for m in result.current}
    territory = card[card["level"] == "territory"]
    assert len(territory) == 8 * len(result.current)
    for column in ("visits", "reach", "frequency", "plan_compliance", "ab_share", "events", "units", "growth"):
        assert column in card
    assert ((territory["plan_compliance"] >= 0) & (territory["plan_compliance"] <= 1)).all()
    assert card["attainment"].isna().all()  # no targets table in the sample
    # each row carries its territory's bridge over the window
    bridge = result.bridge.query("level == 'territory' and product_id == '' and driver == 'visits'")
    first = territory.set_index("unit_id")["window_visits"].groupby(level=0).first()
    assert np.allclose(first, bridge.set_index("unit_id")["change"].reindex(first.index))


def test_targets_give_attainment(sample):
    tables = {name: sample[name] for name in drivers.TABLES if name != "targets"}
    months = pd.date_range("2025-10-01", periods=3, freq="MS")
    tables["targets"] = pd.DataFrame({"territory_id": ["T0001"] * 3, "rep_id": [None] * 3,
                                      "product_id": ["P01"] * 3, "month": months, "target_units": [100.0] * 3})
    card = drivers.run(tables).scorecard
    row = card[(card["level"] == "territory") & (card["unit_id"] == "T0001")]
    assert row["target_units"].tolist() == [100.0] * 3
    assert np.allclose(row["attainment"], row["units"] / 100.0)
    assert card.loc[card["unit_id"] != "T0001", "attainment"].isna().all()


def test_sales_only_works_at_account_level(sample):
    tables = {name: sample[name] for name in drivers.TABLES}
    tables["prescriptions"] = sample.prescriptions.iloc[0:0]
    result = drivers.run(tables)
    assert result.level == "account"
    assert any("cannot" in n or "Sales only" in n for n in result.notes)
    wide = _wide(result)
    assert np.allclose(wide.drop(columns="total").sum(axis=1), wide["total"], atol=1e-6)
    # every prescriber is an account: no 'other' left between sell-out and prescriber volume
    assert np.allclose(wide["other"], 0.0)


@pytest.mark.parametrize("params, match", [
    ({"months": 0}, "'months' must be at least 1"),
    ({"months": "3"}, "'months' must be int"),
    ({"compare": "last_year"}, "'compare' must be one of"),
    ({"end": "2025-13"}, "'end' must be a month"),
    ({"end": "2030-01"}, "outside the data"),
    ({"months": 30}, "not enough history"),
    ({"alpha": 1.5}, "'alpha'"),
])
def test_bad_parameters_are_named(sample, params, match):
    with pytest.raises(ParameterError, match=match):
        drivers.run(sample, **params)


def test_split_change_adds_up_and_sorts_units():
    rng = np.random.default_rng(0)
    n = 200
    y0 = rng.poisson(5, n) * (rng.random(n) < 0.8)
    y1 = rng.poisson(5, n) * (rng.random(n) < 0.8)
    l0, l1, e0, e1 = (rng.random(n) for _ in range(4))
    out = split_change(y0, y1, l0, l1, e0, e1, np.full(n, 1.05), np.full(n, 0.01), 1.96, (0.5, 1.5), (0.8, 1.2))
    assert np.allclose(out[list(DRIVERS[:6])].sum(axis=1), y1 - y0)
    state = status(y0, y1)
    assert np.allclose(out.loc[state == "lapsed", "lapsed_prescribers"], -y0[state == "lapsed"])
    assert np.allclose(out.loc[state == "new", "new_prescribers"], y1[state == "new"])
    assert (out.loc[state != "continuing", ["market", "visits", "events"]] == 0).all().all()


def test_windows_previous_period():
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    current, before = windows(months, 4, "previous_period")
    assert current.tolist() == [8, 9, 10, 11] and before.tolist() == [4, 5, 6, 7]
