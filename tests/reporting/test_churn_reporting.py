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
    assert reasons["D1"] == ("not visited for 2 months; 2 peers in this account lapsing; "
                             "prescriptions down 3 months running")
    assert reasons["D2"] == ""


def test_actionable_reasons_first_and_grammar():
    # the trend raised the risk most, but the visit gap and events come first
    c = pd.DataFrame({"trend_3m": [2.0], "months_since_visit": [0.2], "events_12m": [0.1],
                      "decline_run": [1.0], "peers_lapsing": [0.01]}, index=["D1"])
    f = pd.DataFrame({"trend_3m": [-0.7], "months_since_visit": [1.0], "events_12m": [0.0],
                      "decline_run": [1.0], "peers_lapsing": [1.0]}, index=["D1"])
    reasons = churn_reasons(c, f, level="doctor", n_reasons=4)
    assert reasons["D1"] == ("not visited for 1 month; no event attended in 12 months; "
                             "prescriptions down 50% over 3 months; prescriptions down 1 month running")
    # a contribution below the floor (peers) is no reason
    assert "peer" not in reasons["D1"]
    assert churn_reasons(c.assign(peers_lapsing=0.5), f, level="account", n_reasons=4)["D1"].startswith(
        "1 account in this territory lapsing; not visited for 1 month")  # by contribution within the group


def test_alert_table_orders_by_risk_times_volume():
    s = pd.DataFrame({"entity_id": ["a", "b", "c"], "risk": [0.9, 0.5, 0.1], "p_alive": [0.2, 0.5, 0.9],
                      "expected_transactions": [0.1, 1.0, 2.0], "volume_at_stake": [10.0, 100.0, 50.0]})
    tables = churn_tables(s, pd.Series(["x", "y", "z"], index=["a", "b", "c"]))
    scores, alerts = tables["scores"], tables["early_warning"]
    assert scores["entity_id"].tolist() == ["a", "b", "c"]
    assert alerts["entity_id"].tolist() == ["b", "a"]  # 50 before 9 at stake
    assert "name" not in scores.columns


def _scores():
    return pd.DataFrame({"entity_id": ["a", "b", "c", "d"], "risk": [0.9, 0.6, 0.4, 0.1],
                         "p_alive": [0.96, 0.3, 0.7, 0.9], "expected_transactions": [0.1, 1.0, 2.0, 3.0],
                         "volume_at_stake": [10.0, 100.0, 50.0, 80.0]})


def test_win_back_and_early_warning_lists():
    recency = pd.Series({"a": 3, "b": 0, "c": 1, "d": 0})
    places = pd.DataFrame({"region": ["N", "S", "N", "S"], "territory_id": ["T1", "T2", "T1", "T2"]},
                          index=["a", "b", "c", "d"])
    tables = churn_tables(_scores(), pd.Series("", index=list("abcd")), recency=recency, places=places,
                          win_back_months=2, risk_model="boosting", p_alive_suits=True)
    win_back, early = tables["win_back"], tables["early_warning"]
    assert win_back["entity_id"].tolist() == ["a"]  # no volume for 3 months
    assert early["entity_id"].tolist() == ["b", "c"]  # 0.6 x 100 before 0.4 x 50; d under the threshold
    assert early["months_without_volume"].tolist() == [0, 1]
    assert early["region"].tolist() == ["S", "N"] and early["territory_id"].tolist() == ["T2", "T1"]
    assert set(win_back["risk_model"]) == {"boosting"}
    # p_alive 0.96 beside risk 0.9 contradicts it: not shown; 0.3 beside 0.6 and 0.7 beside 0.4 agree
    assert win_back["p_alive"].isna().all()
    assert early["p_alive"].tolist() == [0.3, 0.7]


def test_p_alive_hidden_where_the_bgnbd_does_not_suit():
    tables = churn_tables(_scores(), pd.Series("", index=list("abcd")), p_alive_suits=False)
    assert tables["early_warning"]["p_alive"].isna().all()
    assert tables["scores"]["p_alive"].notna().all()  # the model's output stays in scores
