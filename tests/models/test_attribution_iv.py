"""Visit lift from capacity shocks (issue 17): recovery where reps chase demand, and where they do not.

Worlds: demo scale (3,000 doctors, 32 territories). ``FEEDBACK_WORLD``: reps raise next
month's visits after a prescribing surprise, part of which is a persistent demand shock
the data do not show (strength as measured in issue 17: the fixed-effects estimate
overstates by about half); reps are absent some days (``rep_absences``). The plain
worlds have the same absences, no feedback and no shock; the default world has neither
(its capacity shocks are vacancies and the rep's month-to-month effort only).

Tolerances, from the issue: long-run effect per visit within 25% of the realised planted
value with the 95% interval covering it. Plain fixed effects must fail under feedback
targeting (interval above the truth, > 25% too high); the lead placebo must be large and
significant for fixed effects and small for the IV. Seeds 1, 2, 4, 5 are held out (seed
3 set the feedback strength).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmlab.features.attribution import active_spell, detailing_by_channel, level_bins
from crmlab.features.capacity import capacity_instruments
from crmlab.features.panels import doctor_month_panel
from crmlab.models.attribution import VisitLift
from crmlab.models.attribution.iv import VisitLiftIV
from crmlab.models.uncertainty import ESTIMATE_COLUMNS
from crmlab.simulate import FEEDBACK_WORLD, simulate

PLAIN_WORLD = {"rep_absence_rate": FEEDBACK_WORLD["rep_absence_rate"]}


def _inputs(world, product="P01"):
    t = world.tables
    panel = doctor_month_panel(t["doctors"], t["visits"], t["prescriptions"], product_ids=product)
    panel["active"] = active_spell(panel, "trx").to_numpy()
    panel["level_bin"] = level_bins(panel, "trx").to_numpy()
    months = pd.DatetimeIndex(panel["month"].unique())
    counts = detailing_by_channel(t["visits"], t["doctors"], months, product)
    capacity = capacity_instruments(t["doctors"], t["accounts"], t["reps"], t["visits"], months,
                                    t.get("rep_absences"))
    return panel, counts, capacity


def _fit(world, **options):
    panel, counts, capacity = _inputs(world)
    return VisitLiftIV(**options).fit(panel, counts, capacity)


@pytest.fixture(scope="module")
def sample_fit():
    return _fit(simulate("sample", seed=5, **FEEDBACK_WORLD))


# ---------------------------------------------------------------- recovery (demo scale)

@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 4, 5])
def test_iv_recovers_the_effect_where_reps_chase_demand_and_fe_fails(seed):
    world = simulate("demo", seed=seed, **FEEDBACK_WORLD)
    truth = world.truth["visits"]["per_visit_long_run"]
    results = _fit(world).results_
    iv, fe = results.effect("per_visit_long_run"), results.effect("fe_per_visit_long_run")
    assert results.design == "iv"
    assert abs(iv["estimate"] / truth - 1) < 0.25
    assert iv["ci_low"] <= truth <= iv["ci_high"]
    # fixed effects take demand-chasing for a visit effect
    assert fe["estimate"] > 1.25 * truth and fe["ci_low"] > truth
    # the placebo: next month's visits "predict" this month's prescriptions under FE only
    lead_fe, lead_iv = results.effect("lead_fe"), results.effect("lead_iv")
    assert lead_fe["ci_low"] > 0.5
    assert abs(lead_iv["estimate"]) < 0.2 * lead_fe["estimate"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 4, 5])
def test_iv_recovers_the_effect_where_reps_do_not_chase_demand(seed):
    world = simulate("demo", seed=seed, **PLAIN_WORLD)
    truth = world.truth["visits"]["per_visit_long_run"]
    results = _fit(world).results_
    iv = results.effect("per_visit_long_run")
    assert abs(iv["estimate"] / truth - 1) < 0.25
    assert iv["ci_low"] <= truth <= iv["ci_high"]
    lead_fe, lead_iv = results.effect("lead_fe"), results.effect("lead_iv")
    assert lead_fe["ci_low"] <= 0 <= lead_fe["ci_high"] or abs(lead_fe["estimate"]) < 0.1
    assert lead_iv["ci_low"] <= 0 <= lead_iv["ci_high"]


@pytest.mark.slow
def test_iv_needs_no_absence_table():
    """In a world without rep absences, vacancies and the rep's effort identify the effect."""
    world = simulate("demo", seed=4)
    truth = world.truth["visits"]["per_visit_long_run"]
    model = _fit(world)
    assert "rep_absences" not in world.tables
    iv = model.results_.effect("per_visit_long_run")
    assert abs(iv["estimate"] / truth - 1) < 0.25
    assert iv["ci_low"] <= truth <= iv["ci_high"]


# ---------------------------------------------------------------- behaviour (sample scale)

def test_results_follow_the_uncertainty_convention(sample_fit):
    summary = sample_fit.results_.summary()
    assert {"effect", *ESTIMATE_COLUMNS} <= set(summary.columns)
    assert {"per_visit_long_run", "carryover", "fe_per_visit_long_run", "fe_minus_iv", "lead_fe", "lead_iv",
            "fe_dynamic_per_visit_long_run", "iv_dynamic_per_visit_long_run"} <= set(summary["effect"])
    assert summary[ESTIMATE_COLUMNS].notna().all().all()
    assert (summary["ci_low"] <= summary["estimate"]).all() and (summary["estimate"] <= summary["ci_high"]).all()
    d = sample_fit.results_.diagnostics
    assert d["first_stage_f"] > 0 and 0 <= d["hausman_p_value"] <= 1 and 0 <= d["endogeneity_p_value"] <= 1
    assert sample_fit.results_.finding().count("first-stage F") == 1


def test_alpha_sets_the_interval_width():
    world = simulate("sample", seed=5, **FEEDBACK_WORLD)
    panel, counts, capacity = _inputs(world)
    fe = VisitLift().fit(panel, counts)
    wide = VisitLiftIV(alpha=0.05).fit(panel, counts, capacity, fe_model=fe).results_.effect("per_visit_long_run")
    narrow = VisitLiftIV(alpha=0.2).fit(panel, counts, capacity, fe_model=fe).results_.effect("per_visit_long_run")
    assert wide["estimate"] == pytest.approx(narrow["estimate"])
    assert wide["ci_high"] - wide["ci_low"] > 1.4 * (narrow["ci_high"] - narrow["ci_low"])


def test_pyfixest_iv_gives_the_same_coefficient(sample_fit):
    """At the estimated carry-over, the 2SLS is pyfixest's ``y ~ 1 | fe | x ~ z``."""
    assert float(sample_fit.pyfixest_fit().coef()["x"]) == pytest.approx(sample_fit.beta_, rel=1e-6)


def test_weak_instruments_warn_and_fall_back():
    """Instruments that are noise: the first-stage F is low, a warning, the design falls back to FE."""
    world = simulate("sample", seed=5, **FEEDBACK_WORLD)
    panel, counts, capacity = _inputs(world)
    rng = np.random.default_rng(0)
    noise = capacity.assign(loo_visits=rng.normal(5, 1, len(capacity)))
    with pytest.warns(UserWarning, match="weak instruments"):
        model = VisitLiftIV(instruments=("loo",)).fit(panel, counts, noise)
    assert model.weak_instruments_ and model.results_.design == "fixed_effects"
    assert "too little" in model.results_.finding()


def test_no_capacity_variation_is_a_clear_error():
    world = simulate("sample", seed=5)
    panel, counts, capacity = _inputs(world)
    flat = capacity.assign(loo_visits=1.0, capacity=1.0, coverage_gap=0.0)
    with pytest.raises(ValueError, match="no capacity shock varies"):
        VisitLiftIV().fit(panel, counts, flat)
    with pytest.raises(ValueError, match="unknown instrument group"):
        VisitLiftIV(instruments=("weather",)).fit(panel, counts, capacity)


def test_sampled_fit_is_seeded(sample_fit):
    world = simulate("sample", seed=5, **FEEDBACK_WORLD)
    panel, counts, capacity = _inputs(world)
    fe = VisitLift().fit(panel, counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = (VisitLiftIV(max_units=200, random_state=3).fit(panel, counts, capacity, fe_model=fe)
                for _ in range(2))
    assert a.sampled_ and a.results_.diagnostics["n_doctors"] == 200
    assert a.beta_ == b.beta_


def _results(hausman_p, lead_fe, lead_iv=(0.0, 0.1)):
    from crmlab.models.attribution.iv_results import VisitLiftIVResults
    rows = [("per_visit_long_run", 0.6, 0.15), ("fe_per_visit_long_run", 0.9, 0.09), ("lead_fe", *lead_fe),
            ("lead_iv", *lead_iv)]
    effects = pd.DataFrame([{"effect": e, "estimate": m, "std_error": s, "ci_low": m - 1.96 * s,
                             "ci_high": m + 1.96 * s} for e, m, s in rows])
    d = {"alpha": 0.05, "weak_instruments": False, "converged": True, "first_stage_f": 400.0,
         "min_first_stage_f": 10.0, "hausman_p_value": hausman_p, "decay": 0.2, "fe_decay": 0.45}
    return VisitLiftIVResults(effects, d, "")


def test_only_the_lead_placebo_takes_the_design_to_the_iv():
    """A Hausman-type gap alone (heterogeneous effects, a vacancy to the data's end) keeps fixed effects."""
    gap_only = _results(0.01, (-0.03, 0.03))
    assert gap_only.design == "fixed_effects"
    assert "nothing points to reps chasing demand" in gap_only.finding()
    assert "carry-over (0.20, against 0.45)" in gap_only.finding()
    # next month's visits predicting fewer prescriptions is not demand-chasing
    negative = _results(0.01, (-0.06, 0.02))
    assert negative.design == "fixed_effects" and "the opposite of demand-chasing" in negative.finding()
    chasing = _results(0.01, (1.5, 0.05))
    assert chasing.design == "iv" and chasing.finding().startswith("Reps visit more after prescribing rises")
    # with or without a significant gap
    assert _results(0.6, (1.5, 0.05)).design == "iv"
    # and when the lead fails under the IV as well, it does not point to demand-chasing
    both = _results(0.6, (1.5, 0.05), lead_iv=(0.5, 0.1))
    assert both.design == "fixed_effects" and "fails under both designs alike" in both.finding()
