"""Grading and value estimate vs the planted potential; behavioural clusters recover planted groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from crmlab.features import doctor_month_panel
from crmlab.features.behaviour import doctor_behaviour
from crmlab.features.common import own_product_ids
from crmlab.features.indicators import doctor_indicators
from crmlab.features.volumes import account_sell_out, last_month, period_months
from crmlab.models.clusters import BehaviourClusters, cluster_profiles
from crmlab.models.segmentation import DoctorGrader, doctor_value_estimate, grading_params
from crmlab.reporting import segmentation as report
from worlds import world_indicators, planted_potential


def test_score_ranks_doctors_like_planted_potential(demo_world):
    # measured on demo seeds 1, 2, 3, 7: Spearman 0.814, 0.821, 0.823, 0.813
    indicators = world_indicators(demo_world)
    graded = DoctorGrader(**grading_params({})).fit(indicators).transform(indicators)
    rho = spearmanr(graded["score"], planted_potential(demo_world, indicators["doctor_id"]))[0]
    assert rho > 0.75
    # grades are ordered by potential: A doctors have the highest median potential
    potential = pd.Series(planted_potential(demo_world, indicators["doctor_id"]))
    medians = potential.groupby(graded["grade"].to_numpy()).median()
    assert medians["A"] > medians["B"] > medians["C"] > medians["D"]


def test_score_without_prescriptions_still_ranks(demo_world):
    # measured on demo seeds 1, 2, 3, 7: 0.639, 0.640, 0.638, 0.641
    indicators = world_indicators(demo_world, prescriptions=False)
    grader = DoctorGrader().fit(indicators)
    assert not grader.volume_used_
    rho = spearmanr(grader.transform(indicators)["score"], planted_potential(demo_world, indicators["doctor_id"]))[0]
    assert rho > 0.57


def test_value_estimate_from_account_sales_ranks_like_potential(demo_world):
    # measured on demo seeds 1, 2, 3, 7 (power 2): 0.658, 0.651, 0.658, 0.651;
    # the naive equal split of account sales (power 0): 0.483, 0.452, 0.441, 0.455
    t = demo_world.tables
    indicators = world_indicators(demo_world, prescriptions=False)
    months = period_months(last_month(t["sales"]["date"]), 12)
    sell_out = account_sell_out(t["sales"], months, own_product_ids(t["products"]))
    grader = DoctorGrader().fit(indicators)
    potential = planted_potential(demo_world, indicators["doctor_id"])
    value = doctor_value_estimate(indicators, grader, sell_out, power=2.0)
    naive = doctor_value_estimate(indicators, grader, sell_out, power=0.0)
    rho, rho_naive = spearmanr(value.to_numpy(), potential)[0], spearmanr(naive.to_numpy(), potential)[0]
    assert rho > 0.6
    assert rho - rho_naive > 0.12  # apportioning by indicators beats the equal split
    # apportioning preserves each account's total
    by_account = value.groupby(indicators["account_id"].to_numpy()).sum()
    doctors_accounts = by_account.index.intersection(sell_out.index)
    np.testing.assert_allclose(by_account[doctors_accounts], sell_out[doctors_accounts], rtol=1e-9)


def test_weight_change_changes_grades_as_expected(sample_world):
    indicators = world_indicators(sample_world)
    only_tier = {"weight_tier": 1.0, "weight_title": 0, "weight_outpatients": 0, "weight_beds": 0,
                 "weight_volume": 0}
    grades = DoctorGrader(**grading_params(only_tier)).fit(indicators).predict(indicators)
    # tier points 3A = 100 -> A; 3B = 80 -> A; 2A = 60 -> B; 2B = 40 -> C; 1 = 20 -> D
    expected = indicators["tier"].map({"3A": "A", "3B": "A", "2A": "B", "2B": "C", "1": "D", "other": "D"})
    assert (grades == expected.to_numpy()).all()

    base = DoctorGrader(**grading_params({})).fit(indicators).predict(indicators)
    more_tier = DoctorGrader(**grading_params({"weight_tier": 0.8})).fit(indicators).predict(indicators)
    top, bottom = indicators["tier"].eq("3A").to_numpy(), indicators["tier"].eq("1").to_numpy()
    assert (more_tier[top] == "A").sum() > (base[top] == "A").sum()
    assert (more_tier[bottom] == "D").sum() > (base[bottom] == "D").sum()
    assert report.grade_shift(indicators, {}, {"weight_tier": 0.8}).to_numpy().trace() < len(indicators)


def test_bad_grading_input_says_what_is_wrong(sample_world):
    indicators = world_indicators(sample_world)
    with pytest.raises(ValueError, match="A >= B >= C"):
        DoctorGrader(thresholds={"A": 10, "B": 50, "C": 30}).fit(indicators)
    with pytest.raises(ValueError, match="unknown grading indicator"):
        DoctorGrader(weights={"charisma": 1.0}).fit(indicators)
    with pytest.raises(ValueError, match="'sales' table"):
        account_sell_out(None, pd.date_range("2025-01-01", periods=1, freq="MS"))
    with pytest.raises(ValueError, match="'doctors' lacks column.*specialty"):
        doctor_indicators(sample_world.tables["doctors"].drop(columns="specialty"),
        sample_world.tables["accounts"])


@parametrize_with_checks([BehaviourClusters(k_max=4, n_bootstrap=2, max_samples=200)])
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_clusters_recover_planted_groups_and_report_instability_of_noise():
    X, truth = make_blobs(600, centers=4, n_features=5, cluster_std=1.0, random_state=3)
    fitted = BehaviourClusters(k_max=7, n_bootstrap=10, random_state=0).fit(X)
    assert fitted.n_clusters_ == 4
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, fitted.labels_) > 0.95
    assert fitted.stability_.loc[0, "estimate"] > 0.95
    noise = np.random.default_rng(0).uniform(size=(600, 5))
    on_noise = BehaviourClusters(k_max=7, n_bootstrap=10, random_state=0).fit(noise)
    # nothing to find: low silhouette, and the bootstrap says so
    assert on_noise.silhouette_ < 0.3 < fitted.silhouette_
    assert on_noise.stability_.loc[0, "estimate"] < fitted.stability_.loc[0, "estimate"] - 0.1


def test_behaviour_clusters_on_simulated_doctors(sample_world):
    t = sample_world.tables
    panel = doctor_month_panel(t["doctors"], t["visits"], t["prescriptions"], events=t["events"],
        event_attendance=t["event_attendance"], products=t["products"])
    behaviour = doctor_behaviour(panel)
    fitted = BehaviourClusters(k_max=5, n_bootstrap=5, random_state=1).fit(behaviour)
    profiles = cluster_profiles(behaviour, fitted.labels_)
    assert len(profiles) == fitted.n_clusters_ and profiles["name"].is_unique
    assert profiles["doctors"].sum() == len(t["doctors"])
    # the visit-frequency feature follows the planted targeting: top-potential doctors are visited most
    band = sample_world.truth_doctors.set_index("doctor_id")["target_frequency"].reindex(behaviour.index)
    assert spearmanr(behaviour["visit_frequency"], band)[0] > 0.7
