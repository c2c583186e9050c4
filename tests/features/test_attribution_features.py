"""Attribution feature builders: the product analysed, attendance by account, campaign donors."""

import numpy as np
import pandas as pd

from crmlab.features.attribution import (analysed_product, attendance_by_account, campaign_donors,
                                         detailing_per_unit, most_detailed_product)


def test_most_detailed_product_counts_completed_visits_of_own_products():
    products = pd.DataFrame({"product_id": ["P1", "P2", "C1"], "is_competitor": [False, False, True]})
    visits = pd.DataFrame({"product_id": ["P1"] * 3 + ["P2"] * 2 + ["C1"] * 4,
                           "status": ["cancelled", "cancelled", "completed", "completed", None] + ["completed"] * 4})
    # P1 has the most visits but only one completed; a missing status counts as completed;
    # the competitor, detailed most, never counts
    assert most_detailed_product(visits, products) == "P2"
    assert most_detailed_product(visits[visits["product_id"] == "C1"], products) is None
    assert most_detailed_product(visits.iloc[0:0], products) is None


def test_analysed_product_falls_back_to_own_then_outcome_products():
    products = pd.DataFrame({"product_id": ["C1", "P7"], "is_competitor": [True, False]})
    no_visits = pd.DataFrame({"product_id": pd.Series(dtype=str)})
    assert analysed_product(no_visits, products, pd.DataFrame({"product_id": ["C1"]})) == "P7"
    assert analysed_product(no_visits, products.iloc[0:0], pd.DataFrame({"product_id": ["X9"]})) == "X9"


def test_attendance_by_account_counts_attendees_within_the_window_and_censors():
    doctors = pd.DataFrame({"doctor_id": ["D1", "D2", "D3", "D4"], "account_id": ["A1", "A1", "A1", "A2"]})
    first = pd.Series({"D1": 2, "D2": 5, "D3": 20, "D4": 7})
    censor = pd.Series({"D2": 9, "D3": 4, "D4": 11})
    by_account, attendees, censored = attendance_by_account(first, doctors, lags=9, censor_month=censor)
    assert by_account.to_dict() == {"A1": 2, "A2": 7}
    # D3 attended 18 months after the account's first attendance: outside the 9-month window
    assert attendees.to_dict() == {"A1": 2, "A2": 1}
    assert censored.to_dict() == {"A1": 4, "A2": 11}
    assert attendance_by_account(first, doctors, lags=9)[2] is None


def _region_panel(territories_per_region: int) -> pd.DataFrame:
    months = pd.date_range("2024-01-01", periods=4, freq="MS")
    rows = []
    for region in ("North", "South", "East"):
        for k in range(territories_per_region):
            for j, month in enumerate(months):
                rows.append({"region": region, "territory_id": f"{region[0]}{k}", "month": month,
                             "sell_out": 10.0 + k + j})
    return pd.DataFrame(rows)


def test_campaign_donors_pools_territories_and_keeps_totals():
    panel = _region_panel(5)
    wide, per_region, pooled = campaign_donors(panel, "North", "sell_out", max_donors=60)
    assert not pooled and per_region == 30
    assert list(wide.columns) == ["treated"] + [f"{r}{k}" for r in "ES" for k in range(5)]
    wide, per_region, pooled = campaign_donors(panel, "North", "sell_out", max_donors=4)
    assert pooled and per_region == 2
    assert list(wide.columns) == ["treated", "East:group1", "East:group2", "South:group1", "South:group2"]
    others = panel[panel["region"] != "North"].groupby("month")["sell_out"].sum()
    np.testing.assert_allclose(wide.drop(columns="treated").sum(axis=1), others)
    np.testing.assert_allclose(wide["treated"], panel[panel["region"] == "North"].groupby("month")["sell_out"].sum())


def test_detailing_per_unit_aligns_account_visits_to_the_panel():
    month = pd.Timestamp("2025-01-01")
    counts = pd.DataFrame({"doctor_id": ["D1", "D2", "D3"], "account_id": ["A2", "A2", "A1"], "month": [month] * 3,
                           "detailing_face_to_face": [1.0, 2.0, 0.0], "detailing_remote": [0.0, 1.0, 5.0]})
    panel = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "month": [month] * 3})
    assert detailing_per_unit(counts, panel, "account_id").tolist() == [5.0, 4.0, 0.0]
    assert detailing_per_unit(counts, panel, "doctor_id").tolist() == [1.0, 3.0, 5.0]
