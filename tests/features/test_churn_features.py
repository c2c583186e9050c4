"""Churn features: no leakage, planted lapses, clear messages, purchase occasions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlab.features.churn import (
    active_mask,
    churn_features,
    churn_history,
    churn_labels,
    data_grain,
    default_as_of,
    horizon_length,
    parse_date,
    resolve_time_unit,
    rfm_at,
)
from crmlab.io import load
from crmlab.simulate import simulate

REFERENCE = Path(__file__).parents[1] / "reference"


@pytest.fixture(scope="module")
def demo_world():
    return simulate("demo", seed=11)


def test_features_do_not_leak(sample_world):
    """A feature as of T is unchanged when rows after T are altered or appended."""
    tables = sample_world.tables
    as_of = pd.Timestamp("2024-12-31")
    before = churn_features(tables, as_of)
    altered = dict(tables)
    rx = tables["prescriptions"].copy()
    late = rx["month"] > as_of
    rx.loc[late, "trx"] = 0.0  # every doctor "lapses" right after T
    extra = rx[late].assign(month=rx.loc[late, "month"] + pd.DateOffset(years=1), trx=99.0)
    altered["prescriptions"] = pd.concat([rx, extra], ignore_index=True)
    visits = tables["visits"]
    altered["visits"] = visits[visits["date"] <= as_of]
    after = churn_features(altered, as_of)
    pd.testing.assert_frame_equal(before, after)
    # and the features do depend on data up to T (the test can fail)
    changed = dict(tables)
    rx2 = tables["prescriptions"].copy()
    rx2.loc[rx2["month"] == as_of.replace(day=1), "trx"] = 0.0
    changed["prescriptions"] = rx2
    assert not churn_features(changed, as_of, active_only=False)["volume_last"].equals(
        churn_features(tables, as_of, active_only=False)["volume_last"])


def test_labels_match_planted_lapses(demo_world):
    """Churn labels (zero volume over the horizon) recover the planted doctor lapses."""
    history = churn_history(demo_world.tables)
    lapse_month = demo_world.truth_doctors.set_index("doctor_id")["lapse_month"].reindex(history.entity_ids)
    agree, recalls = [], []
    for t in (12, 20, 28):
        active = active_mask(history, t)
        label = churn_labels(history, t, horizon_months=3)[active]
        # planted: own-product volume is zero from lapse_month on
        planted = ((lapse_month >= 0) & (lapse_month <= t + 1)).to_numpy()[active]
        agree.append((label == planted).mean())
        recalls.append(label[planted].mean())
    assert min(agree) > 0.99
    assert min(recalls) > 0.95


def test_missing_table_message(sample_world):
    tables = {k: v for k, v in sample_world.tables.items() if k != "prescriptions"}
    with pytest.raises(ValueError, match="prescriptions"):
        churn_features(tables, "2024-12-31")
    assert default_as_of(sample_world.tables) == pd.Timestamp("2025-12-31")




# ---------------------------------------------------------------- purchase occasions
def test_rfm_from_cdnow_transactions_equals_published_calibration_summary(tmp_path):
    """CDNOW's transactions through the loader and churn_history give, by day, exactly the
    published calibration summary (Lifetimes' cdnow_customers_summary.csv, in weeks)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "analyses"))
    from churn_worlds import cdnow_sales, write_sales_world

    ds = load(write_sales_world(tmp_path / "cdnow", cdnow_sales()))
    history = churn_history(ds, level="account", as_of="1998-06-30")
    assert data_grain(history) == "day"
    ours = rfm_at(history, "1997-09-30", time_unit="day")
    published = pd.read_csv(REFERENCE / "cdnow_customers_summary.csv")
    assert len(ours) == len(published) == 2357
    ours = ours.sort_index()
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), published["frequency"].to_numpy())
    np.testing.assert_allclose(ours["recency"].to_numpy() / 7, published["recency"], atol=0.006)
    np.testing.assert_allclose(ours["T"].to_numpy() / 7, published["T"], atol=0.006)
    # by week: one occasion per customer and week, so never more repeat occasions than by day
    weekly = rfm_at(history, "1997-09-30", time_unit="week").sort_index()
    assert (weekly["frequency"] <= ours["frequency"]).all() and (weekly["frequency"] < ours["frequency"]).any()


def test_date_parameters_accept_days_and_months():
    assert parse_date("1997-09") == pd.Timestamp("1997-09-30")
    assert parse_date("1997-09-15") == pd.Timestamp("1997-09-15")
    assert parse_date("2024-02", end_of_month=False) == pd.Timestamp("2024-02-01")
    import datetime as dt

    assert parse_date(dt.date(2024, 6, 30)) == pd.Timestamp("2024-06-30")
    for bad in ("30/06/2024", "2024", "abc", "2024-13"):
        with pytest.raises(ValueError, match="as_of"):
            parse_date(bad)


def test_time_unit_follows_the_data(sample_world):
    assert data_grain(churn_history(sample_world.tables)) == "month"  # monthly prescriptions
    assert data_grain(churn_history(sample_world.tables, level="account")) == "day"  # dated sales
    assert resolve_time_unit("auto", "day") == ("day", "")
    unit, note = resolve_time_unit("day", "month")
    assert unit == "month" and "finer than the data" in note
    assert resolve_time_unit("month", "day") == ("month", "")
    assert horizon_length("2025-12-31", 3, "month") == pytest.approx(90 / 30.4375)
    assert horizon_length("2025-12-31", 3, "day") == 90.0
