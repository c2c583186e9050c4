"""Segmentation features: account potential vs the planted one, call plan hand counts, deciles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from crmlab.features.callplan import (
    adoption_funnel,
    call_plan_compliance,
    compliance_alerts,
    sfe_kpis,
    unseen_doctors,
    weekly_plan_vs_actual,
)
from crmlab.features.deciles import decile_migration, volume_deciles
from crmlab.features.potential import account_potential_adoption, potential_adoption_quadrants
from crmlab.models.segmentation import DoctorGrader
from crmlab.models.visit_quality import visit_quality
from worlds import world_indicators


QUOTA = {"A": 4, "B": 2, "C": 1, "D": 0}


def test_account_potential_recovers_planted_potential(demo_world):
    # measured on demo seeds 1, 2, 3: 0.999, 0.998, 0.998 (size alone: 0.768, 0.738, 0.745)
    t = demo_world.tables
    accounts = account_potential_adoption(t["accounts"], doctors=t["doctors"], prescriptions=t["prescriptions"],
        sales=t["sales"], products=t["products"])
    truth = demo_world.truth_accounts.set_index("account_id")["potential"].reindex(accounts["account_id"])
    observed = (accounts["potential_source"] == "category_volume").to_numpy()
    assert spearmanr(accounts["potential"][observed], truth[observed])[0] > 0.97
    size_only = account_potential_adoption(t["accounts"], sales=t["sales"], products=t["products"])
    assert spearmanr(size_only["potential"][observed], truth[observed])[0] < 0.9
    quadrants = potential_adoption_quadrants(accounts)
    assert set(quadrants["quadrant"]) == {"Win", "Defend", "Grow", "Maintain"}


@pytest.fixture
def handmade():
    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "territory_id": ["T1", "T2"], "manager_id": ["M1", "M1"],
                         "hire_date": pd.to_datetime(["2020-01-01", "2024-02-10"]), "end_date": [pd.NaT, pd.NaT]})
    grades = pd.DataFrame({"doctor_id": ["D1", "D2", "D3", "D4", "D5"],
                           "territory_id": ["T1", "T1", "T1", "T1", "T2"],
                           "grade": ["A", "A", "B", "D", "C"]})
    rows = [("2024-01-05", "R1", "D1", "completed"), ("2024-01-12", "R1", "D1", "completed"),
            ("2024-01-19", "R1", "D1", "cancelled"), ("2024-01-20", "R1", "D2", "completed"),
            ("2024-01-25", "R1", "D3", "completed"), ("2024-01-26", "R1", "D4", "completed"),
            ("2024-01-27", "R1", "D5", "completed"),  # outside R1's territory: not in its plan
            ("2024-02-02", "R1", "D1", "completed"), ("2024-02-10", "R1", "D3", None),  # missing = completed
            ("2024-02-15", "R2", "D5", "completed"), ("2024-02-20", "R2", "D5", "planned")]
    visits = pd.DataFrame(rows, columns=["date", "rep_id", "doctor_id", "status"])
    visits["date"] = pd.to_datetime(visits["date"])
    visits.insert(0, "visit_id", [f"V{i}" for i in range(len(visits))])
    return visits, reps, grades


def test_compliance_equals_hand_count(handmade):
    visits, reps, grades = handmade
    table = call_plan_compliance(visits, reps, grades, QUOTA)
    got = table[["rep_id", "month", "grade", "doctors", "planned", "actual", "reached"]]
    expected = pd.DataFrame([
        ("R1", "2024-01-01", "A", 2, 8.0, 3, 2), ("R1", "2024-01-01", "B", 1, 2.0, 1, 1),
        ("R1", "2024-01-01", "D", 1, 0.0, 1, 1), ("R1", "2024-02-01", "A", 2, 8.0, 1, 1),
        ("R1", "2024-02-01", "B", 1, 2.0, 1, 1), ("R1", "2024-02-01", "D", 1, 0.0, 0, 0),
        ("R2", "2024-02-01", "C", 1, 1.0, 1, 1)],  # R2 hired 10 Feb: no January plan
        columns=got.columns).assign(month=lambda d: pd.to_datetime(d["month"]))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    np.testing.assert_allclose(table["compliance"], [3 / 8, 0.5, np.nan, 1 / 8, 0.5, np.nan, 1.0])

    kpis = sfe_kpis(table, QUOTA).set_index(["rep_id", "month"])
    r1_jan = kpis.loc[("R1", pd.Timestamp("2024-01-01"))]
    assert (r1_jan["planned"], r1_jan["actual"], r1_jan["compliance"]) == (10.0, 4, 0.4)
    assert (r1_jan["reach"], r1_jan["frequency"], r1_jan["a_coverage"]) == (1.0, 4 / 3, 1.0)
    r1_feb = kpis.loc[("R1", pd.Timestamp("2024-02-01"))]
    assert (r1_feb["compliance"], r1_feb["reach"], r1_feb["a_coverage"]) == (0.2, 2 / 3, 0.5)
    assert np.isnan(kpis.loc[("R2", pd.Timestamp("2024-02-01")), "a_coverage"])
    alerts = compliance_alerts(kpis.reset_index(), 0.8)
    assert alerts["rep_id"].tolist() == ["R1"]
    managers = sfe_kpis(table, QUOTA, by="manager_id")
    assert managers.loc[managers["month"] == "2024-02-01", "planned"].item() == 11.0


def test_compliance_equals_direct_recount_on_simulated_visits(sample_world):
    t = sample_world.tables
    indicators = world_indicators(sample_world)
    grades = indicators[["doctor_id", "territory_id"]].assign(
        grade=DoctorGrader().fit(indicators).predict(indicators))
    table = call_plan_compliance(t["visits"], t["reps"], grades, QUOTA)
    # recount a few cells straight from the visits table
    territory = t["reps"].set_index("rep_id")["territory_id"]
    grade_of = grades.set_index("doctor_id")
    done = t["visits"][t["visits"]["status"] == "completed"]
    for row in table.sample(15, random_state=0).itertuples():
        in_month = done[(done["rep_id"] == row.rep_id) & (done["date"].dt.to_period("M").dt.to_timestamp()
        == row.month)]
        mine = in_month[in_month["doctor_id"].map(grade_of["grade"]).eq(row.grade)
                        & in_month["doctor_id"].map(grade_of["territory_id"]).eq(territory[row.rep_id])]
        assert row.actual == len(mine)
        assert row.reached == mine["doctor_id"].nunique()
        assert row.doctors == ((grades["territory_id"] == territory[row.rep_id]) & (grades["grade"] == row.grade)).sum()
        assert row.planned == row.doctors * QUOTA[row.grade]


def test_unseen_weekly_quality_and_funnel(handmade):
    visits, reps, grades = handmade
    unseen = unseen_doctors(visits, grades, weeks=3)
    assert unseen["doctor_id"].tolist() == ["D2"]  # last seen 20 Jan, 26 days before 15 Feb
    table = call_plan_compliance(visits, reps, grades, QUOTA)
    weekly = weekly_plan_vs_actual(visits, table, QUOTA, doctor_grades=grades)
    r1 = weekly[weekly["rep_id"] == "R1"]
    assert r1["actual"].sum() == 6  # R1's completed visits to its target doctors (A, B)
    np.testing.assert_allclose(r1.loc[r1["week"] == "2024-01-01", "planned"], 10 * 7 / 31)
    quality = visit_quality(pd.DataFrame({"channel": ["face_to_face", "messaging"], "duration_min": [30, 3],
        "product_id": ["P01", None], "status": ["completed", "cancelled"]}))
    np.testing.assert_allclose(quality, [100.0, 100 * (0.4 * 0.2 + 0.3 * 0.2)])
    rx = pd.DataFrame({"doctor_id": ["D1", "D1", "D3"], "product_id": ["P1"] * 3,
                       "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01"]), "trx": [1.0, 2.0, 1.0]})
    funnel = adoption_funnel(grades, visits, rx, QUOTA, product_ids=["P1"], months=1)
    t1 = funnel.set_index("territory_id").loc["T1"]
    assert (t1["targets"], t1["reached"], t1["prescribing"], t1["growing"]) == (3, 2, 2, 2)


def test_deciles_and_migration():
    volume = pd.Series(np.r_[np.zeros(5), np.arange(1, 21)], index=[f"D{i}" for i in range(25)], dtype=float)
    deciles = volume_deciles(volume)
    assert (deciles[:5] == 0).all() and deciles.iloc[-2:].tolist() == [10, 10]
    assert deciles[volume > 0].value_counts().eq(2).all()
    migration = decile_migration(deciles, volume_deciles(volume[::-1].set_axis(volume.index)))
    # reversed volumes: the two top doctors drop to none, two non-prescribers become top
    assert migration.to_numpy().sum() == 25 and migration.loc[10, 0] == 2 and migration.loc[0, 10] == 2
