"""Churn reporting: reasons in words, tables, notes."""

from __future__ import annotations

import pandas as pd

from crmlab.reporting.churn import churn_reasons, churn_tables


def test_reasons_in_words():
    c = pd.DataFrame({"months_since_visit": [1.0, 0.0], "peers_lapsing": [0.5, 0.0],
                      "decline_run": [0.3, 0.0]}, index=["D1", "D2"])
    f = pd.DataFrame({"months_since_visit": [2.0, 0.0], "peers_lapsing": [2.0, 0.0],
                      "decline_run": [3.0, 0.0]}, index=["D1", "D2"])
    reasons = churn_reasons(c, f, level="doctor")
    assert reasons["D1"] == ("no visit for 9 weeks; 2 peers in this account lapsing; "
                             "prescriptions down 3 months running")
    assert reasons["D2"] == ""


def test_alert_table_orders_by_risk_times_volume():
    s = pd.DataFrame({"entity_id": ["a", "b", "c"], "risk": [0.9, 0.5, 0.1], "p_alive": [0.2, 0.5, 0.9],
                      "expected_transactions": [0.1, 1.0, 2.0], "volume_at_stake": [10.0, 100.0, 50.0]})
    scores, alerts = churn_tables(s, pd.Series(["x", "y", "z"], index=["a", "b", "c"]))
    assert scores["entity_id"].tolist() == ["a", "b", "c"]
    assert alerts["entity_id"].tolist() == ["b", "a"]  # 50 before 9 at stake
    assert "name" not in scores.columns
