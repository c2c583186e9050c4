"""Panels on tiny hand-made tables, with exact expected values."""

import numpy as np
import pandas as pd
import pytest

from crmlab.features import (
    account_month_panel,
    channel_panel,
    days_on_hand,
    doctor_month_panel,
    visit_adstock,
)

D = pd.to_datetime


@pytest.fixture
def tables():
    accounts = pd.DataFrame({"account_id": ["007", "010"], "region": ["North", "South"],
                             "territory_id": ["T1", "T2"]})
    doctors = pd.DataFrame({"doctor_id": ["d1", "d2", "d3"], "account_id": ["007", "007", "010"]})
    visits = pd.DataFrame({
        "visit_id": ["v1", "v2", "v3", "v4", "v5"],
        "date": D(["2025-01-05", "2025-01-20", "2025-02-11", "2025-03-02", "2025-03-03"]),
        "rep_id": ["r1"] * 5,
        "doctor_id": ["d1", "d1", "d2", "d1", "d3"],
        "product_id": ["P1", "P2", "P1", None, "P1"],
        "channel": ["face_to_face", "remote", "face_to_face", "phone", "face_to_face"],
        "status": ["completed", "completed", "completed", "completed", "cancelled"],
    })
    prescriptions = pd.DataFrame({
        "doctor_id": ["d1", "d1", "d2", "d1"], "product_id": ["P1", "P1", "P1", "C1"],
        "month": D(["2025-01-01", "2025-03-01", "2025-02-01", "2025-01-01"]),
        "trx": [4.0, 6.0, 2.0, 9.0], "nrx": [1.0, 0.0, 1.0, 3.0]})
    products = pd.DataFrame({"product_id": ["P1", "P2", "C1"], "is_competitor": [False, False, True]})
    events = pd.DataFrame({"event_id": ["e1"], "start_date": D(["2025-02-14"])})
    attendance = pd.DataFrame({"event_id": ["e1", "e1"], "doctor_id": ["d1", "d3"]})
    sales = pd.DataFrame({
        "date": D(["2025-01-03", "2025-01-28", "2025-02-10", "2025-03-15"]),
        "account_id": ["007", "007", "010", "007"], "product_id": ["P1", "P1", "P1", "C1"],
        "units": [10.0, -2.0, 5.0, 99.0], "distributor_id": ["W1", "W1", "W2", "W1"],
        "revenue": [100.0, -20.0, 50.0, 990.0]})
    return dict(accounts=accounts, doctors=doctors, visits=visits, prescriptions=prescriptions,
                products=products, events=events, attendance=attendance, sales=sales)


def test_visit_adstock_recursion():
    stock = visit_adstock(np.array([[2.0, 0.0, 0.0, 1.0]]), decay=0.5)
    np.testing.assert_allclose(stock, [[2.0, 1.0, 0.5, 1.25]])
    with pytest.raises(ValueError, match="decay"):
        visit_adstock(np.ones((1, 2)), decay=1.0)


def test_doctor_month_panel_exact(tables):
    t = tables
    before = t["visits"].copy()
    panel = doctor_month_panel(t["doctors"], t["visits"], t["prescriptions"], events=t["events"],
                               event_attendance=t["attendance"], products=t["products"],
                               product_ids="P1", decay=0.5)
    pd.testing.assert_frame_equal(t["visits"], before)  # inputs untouched
    assert len(panel) == 3 * 3  # doctors × months Jan..Mar
    d1 = panel[panel["doctor_id"] == "d1"]
    assert d1["trx"].tolist() == [4.0, 0.0, 6.0]  # competitor C1 not counted
    assert d1["visits"].tolist() == [2.0, 0.0, 1.0]  # completed visits, any product
    assert d1["visits_remote"].tolist() == [1.0, 0.0, 0.0]
    assert d1["visits_phone"].tolist() == [0.0, 0.0, 1.0]
    assert d1["detailing_visits"].tolist() == [1.0, 0.0, 0.0]  # only P1 named
    assert d1["visit_adstock"].tolist() == [1.0, 0.5, 0.25]
    assert d1["events_attended"].tolist() == [0.0, 1.0, 0.0]
    d3 = panel[panel["doctor_id"] == "d3"]
    assert d3["visits"].sum() == 0.0  # the cancelled visit does not count
    assert panel["account_id"].tolist()[:3] == ["007"] * 3


def test_doctor_month_panel_defaults_to_own_products(tables):
    t = tables
    panel = doctor_month_panel(t["doctors"], t["visits"], t["prescriptions"], products=t["products"])
    d1 = panel[panel["doctor_id"] == "d1"]
    assert d1["trx"].tolist() == [4.0, 0.0, 6.0]
    assert d1["detailing_visits"].tolist() == [2.0, 0.0, 0.0]  # P1 and P2 are own products


def test_account_month_panel_exact(tables):
    t = tables
    panel = account_month_panel(t["accounts"], t["sales"], doctors=t["doctors"], visits=t["visits"],
                                prescriptions=t["prescriptions"], products=t["products"])
    a = panel[panel["account_id"] == "007"]
    assert a["sell_out"].tolist() == [8.0, 0.0, 0.0]  # return netted; competitor excluded
    assert a["returns"].tolist() == [2.0, 0.0, 0.0]
    assert a["revenue"].tolist() == [80.0, 0.0, 0.0]
    assert a["trx"].tolist() == [4.0, 2.0, 6.0]
    assert a["visits"].tolist() == [2.0, 1.0, 1.0]
    assert a["doctors"].tolist() == [2, 2, 2]
    b = panel[panel["account_id"] == "010"]
    assert b["sell_out"].tolist() == [0.0, 5.0, 0.0]
    assert b["visits"].sum() == 0.0


def test_account_month_panel_sales_only(tables):
    t = tables
    panel = account_month_panel(t["accounts"], t["sales"])
    assert panel["visits"].sum() == 0 and panel["doctors"].sum() == 0
    assert panel["sell_out"].sum() == 8.0 + 5.0 + 99.0  # no products table: every product


def test_channel_panel_exact(tables):
    shipments = pd.DataFrame({
        "date": D(["2025-01-02", "2025-01-20", "2025-03-05"]), "distributor_id": ["W1"] * 3,
        "product_id": ["P1"] * 3, "units": [20.0, 10.0, 40.0]})
    inventory = pd.DataFrame({
        "date": D(["2025-01-15", "2025-01-31", "2025-02-28", "2025-03-31"]), "distributor_id": ["W1"] * 4,
        "product_id": ["P1"] * 4, "units_on_hand": [99.0, 31.0, 28.0, 62.0]})
    sales = tables["sales"][tables["sales"]["product_id"] == "P1"]
    distributors = pd.DataFrame({"distributor_id": ["W1", "W2"], "region": ["North", "South"]})
    panel = channel_panel(shipments, sales, inventory, distributors=distributors, window=2)
    w1 = panel[panel["distributor_id"] == "W1"].reset_index(drop=True)
    assert w1["sell_in"].tolist() == [30.0, 0.0, 40.0]
    assert w1["sell_out"].tolist() == [8.0, 0.0, 0.0]
    assert w1["inventory"].tolist() == [31.0, 28.0, 62.0]  # last snapshot of the month
    # days on hand: inventory / (trailing-2-month sell-out / trailing days)
    assert w1["days_on_hand"].iloc[0] == pytest.approx(31.0 / (8.0 / 31))
    assert w1["days_on_hand"].iloc[1] == pytest.approx(28.0 / (8.0 / (31 + 28)))
    assert np.isnan(w1["days_on_hand"].iloc[2])  # no sell-out in the window
    assert set(panel["region"]) == {"North", "South"}
    w2 = panel[panel["distributor_id"] == "W2"]
    assert w2["sell_out"].tolist() == [0.0, 5.0, 0.0] and w2["inventory"].isna().all()


def test_days_on_hand():
    assert days_on_hand([60.0], [30.0], [30]).tolist() == [60.0]
