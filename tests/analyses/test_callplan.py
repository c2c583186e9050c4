"""The call plan on the sample and on small problems: allocation, constraints, outputs, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from crmlab.analyses import callplan
from crmlab.analyses.base import ParameterError
from crmlab.config import SAMPLE_DIR
from crmlab.models.callplan import allocate, doctor_intervals, draw_totals, saturating_value
from crmlab.simulate import simulate
from crmlab.simulation.response import RESPONSE_SHAPES


@pytest.fixture(scope="module")
def result():
    return callplan.run(SAMPLE_DIR, n_draws=50)


def test_greedy_allocation_matches_the_continuous_optimum():
    rng = np.random.default_rng(0)
    n = 12
    a, r = rng.uniform(0.2, 2.0, n), rng.uniform(0.4, 0.9, n)
    capacity = 15.0
    greedy = allocate(a, r, 0.5, np.zeros(n, int), np.array([capacity]), max_visits=4.0, step=0.01)
    res = optimize.minimize(lambda v: -saturating_value(a, r, 0.5, v).sum(), np.full(n, capacity / n),
                            bounds=[(0, 4)] * n, constraints=[{"type": "ineq", "fun": lambda v: capacity - v.sum()}],
                            method="SLSQP")
    assert greedy.sum() <= capacity + 1e-9
    assert saturating_value(a, r, 0.5, greedy).sum() >= -res.fun - 1e-3


def test_allocation_keeps_bounds_minimums_and_capacity():
    a = np.array([5.0, 1.0, 0.0, 0.5])
    territory = np.array([0, 0, 0, 1])
    v = allocate(a, 0.5, 1.0, territory, np.array([6.0, 1.0]), min_visits=np.array([0, 0, 2.0, 0]), max_visits=3.0,
                 step=0.5)
    assert v[2] == 2.0  # a must-see doctor keeps the minimum even without response
    assert v[:3].sum() <= 6.0 and v[3] <= 1.0
    assert v.max() <= 3.0
    # minimums beyond capacity: the largest first-step return keeps its minimum
    tight = allocate(np.array([1.0, 2.0]), 0.5, 1.0, np.zeros(2, int), np.array([1.0]), min_visits=1.0, step=0.5)
    assert tight.tolist() == [0.0, 1.0]
    # profit: no visit whose return is worth less than its cost
    assert allocate(a, 0.5, 1.0, territory, np.array([6.0, 1.0]), unit_value=1.0, cost_per_visit=100.0).sum() == 0


def test_allocation_spends_a_capacity_on_the_step_grid_to_the_last_step():
    # capacities in tenths, steps of 0.1: a running sum carried across territories drifted past
    # the 1e-9 tolerance and left a step unused in 118 of these 200 territories
    rng = np.random.default_rng(7)
    n, n_territories = 20000, 200
    territory = rng.integers(0, n_territories, n)
    capacity = np.round(np.bincount(territory, minlength=n_territories) * rng.uniform(0.5, 2.0, n_territories), 1)
    plan = allocate(rng.gamma(2.0, 1.0, n), 0.6, 0.8, territory, capacity, max_visits=8.0, step=0.1)
    np.testing.assert_allclose(np.bincount(territory, weights=plan, minlength=n_territories), capacity, atol=1e-9)


def test_capacity_scenarios_share_one_ranking_and_equal_separate_plans():
    rng = np.random.default_rng(3)
    n = 400
    a = np.where(rng.random(n) < 0.2, 0.0, rng.gamma(2.0, 1.0, n))
    a[:40] = 1.3  # ties: thin-history doctors share their segment's effect
    territory = rng.integers(0, 7, n)
    capacity = np.bincount(territory, minlength=7) * 1.2
    kw = dict(min_visits=np.where(rng.random(n) < 0.1, 1.0, 0.0), max_visits=5.0, step=0.1)
    factors = np.array([0.5, 1.0, 1.5])
    together = allocate(a, 0.6, 0.8, territory, np.outer(factors, capacity), **kw)
    assert together.shape == (3, n)
    for plan, f in zip(together, factors):
        assert np.array_equal(plan, allocate(a, 0.6, 0.8, territory, capacity * f, **kw))
    assert (together[0] <= together[2] + 1e-9).all()  # more capacity never takes a visit away


def test_draws_are_valued_as_every_doctor_and_draw_on_its_own():
    # the draws evaluate each saturation once per visit level: the numbers must be those of
    # the elementwise formula, exactly (a linear draw, r = 1, and unrounded visits included)
    rng = np.random.default_rng(5)
    n, m = 3000, 40
    amp = np.where(rng.random((m, n)) < 0.1, 0.0, rng.gamma(2.0, 1.0, (m, n)))
    r = rng.uniform(0.3, 1.0, (m, 1))
    r[0] = 1.0
    visits = np.round(rng.uniform(0, 6, n), 1)
    visits[:50] = rng.uniform(0, 6, 50)
    code = rng.integers(0, 9, n)
    every = saturating_value(amp, r, 0.7, visits[None, :])
    total, by_territory = draw_totals(amp, r, 0.7, visits, code, 9, chunk=7)
    assert np.array_equal(total, every.sum(axis=1))
    assert np.array_equal(by_territory, np.stack([np.bincount(code, weights=d, minlength=9) for d in every]))
    lower, upper = doctor_intervals(amp, r, 0.7, visits, (2.5, 97.5), chunk=1000)
    assert np.array_equal(np.stack([lower, upper]), np.percentile(every, (2.5, 97.5), axis=0))


def test_sample_plan_outputs(result):
    plan = result.tables["plan"]
    assert list(plan.columns) == callplan.PLAN_COLUMNS
    assert not any("name" in c for t in result.tables.values() for c in t.columns)
    terr = result.territories
    assert (terr["recommended_visits"] <= terr["capacity"] + 1e-6).all()
    d = result.doctors
    assert d.loc[d["status"] == "lapsed", "recommended_visits_per_month"].sum() == 0
    assert (plan["lower"] <= plan["expected_incremental_units"] + 1e-9).all()
    s = result.summary()
    assert s["gain"]["ci_low"] <= s["gain"]["estimate"] <= s["gain"]["ci_high"]
    assert [row["capacity_change_pct"] for row in s["capacity_curve"]] == list(range(-50, 51, 10))
    units = [row["expected_incremental_units"] for row in s["capacity_curve"]]
    assert all(np.diff(units) >= -1e-9)  # more capacity never hurts
    changes = result.changes
    assert set(changes["direction"]) <= {"see more", "see less"}
    assert (changes.loc[changes["direction"] == "see more", "change"] > 0).all()
    seg = result.segments
    assert {"estimate", "ci_low", "ci_high", "naive"} <= set(seg.columns)


def test_capacity_per_rep_and_must_see(tmp_path, result):
    doctors = result.doctors[result.doctors["status"] != "lapsed"]
    chosen = doctors.nsmallest(3, "effect_long_run")["doctor_id"]
    must = tmp_path / "must.csv"
    pd.DataFrame({"doctor_id": chosen}).to_csv(must, index=False)
    res = callplan.run(SAMPLE_DIR, n_draws=20, must_see_file=str(must), must_see_visits=2.0, capacity_per_rep=30.0,
                       correct_for_chasing=False)
    got = res.doctors.set_index("doctor_id").loc[chosen, "recommended_visits_per_month"]
    assert (got >= 2.0 - 1e-9).all()
    assert "30 visits a month per rep" in " ".join(res.notes)


def test_bad_input_is_named(tmp_path):
    bad = tmp_path / "must.csv"
    pd.DataFrame({"doctor": ["D1"]}).to_csv(bad, index=False)
    with pytest.raises(ParameterError, match="must_see_file.*doctor_id"):
        callplan.run(SAMPLE_DIR, must_see_file=str(bad))
    with pytest.raises(ParameterError, match="alpha"):
        callplan.run(SAMPLE_DIR, alpha=2.0)
    tables = simulate("sample", 3).tables
    with pytest.raises(ValueError, match="'prescriptions' table"):
        callplan.run({**tables, "prescriptions": pd.DataFrame()})


def test_response_option_is_off_by_default_and_plants_per_doctor_truth():
    plain, off = simulate("sample", 3), simulate("sample", 3, visit_response="")
    for name, table in plain.tables.items():
        pd.testing.assert_frame_equal(table, off.tables[name])
    assert "response_beta" not in plain.truth_doctors
    on = simulate("sample", 3, visit_response="default")
    td = on.truth_doctors
    assert {"response_beta", "response_saturation", "responder", "response_expected_beta"} <= set(td.columns)
    assert 0.05 < (~td["responder"]).mean() < 0.3 and (td.loc[~td["responder"], "response_beta"] == 0).all()
    assert (td["response_saturation"] ** 3 < 0.35).mean() > 0.95  # the 4th visit adds far less than the 1st
    # the current plan over-visits the top: visits per doctor rise more than in the default world
    top = td["potential"] >= td["potential"].quantile(0.9)
    per_doctor = lambda w: w.tables["visits"].groupby("doctor_id").size().reindex(td["doctor_id"]).fillna(0)  # noqa: E731
    ratio = lambda w: per_doctor(w)[top.to_numpy()].mean() / per_doctor(w)[~top.to_numpy()].mean()  # noqa: E731
    assert ratio(on) > 1.2 * ratio(plain)
    with pytest.raises(ValueError, match="visit_response"):
        simulate("sample", 3, visit_response="wiggly")
    assert set(RESPONSE_SHAPES) == {"default", "hump", "increasing", "decreasing", "specialty"}
