"""The attribution analysis: recovery of the planted visit/event/campaign effects end to end.

Tolerances: long-run effect per visit within 15% of truth with the 95% interval covering
it (demo scale, 3,000 doctors); naive pooled slope > 2x truth; event effects per
attendee within 20% (demo scale). Model-level tests (seeds, Prop 99) are in
tests/models/test_attribution_models.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.analyses import attribution
from crmlab.analyses.base import ParameterError
from crmlab.config import SAMPLE_DIR
from crmlab.features.attribution import detailing_by_channel
from crmlab.simulate import simulate


@pytest.fixture(scope="module")
def demo_world():
    return simulate("demo", seed=3)


@pytest.fixture(scope="module")
def demo_report(demo_world):
    return attribution.run(demo_world.tables)


@pytest.mark.slow
def test_visit_lift_recovers_long_run_effect_and_naive_fails(demo_world, demo_report):
    truth = demo_world.truth["visits"]
    visits = demo_report.summary()["visits"]
    long_run = visits["per_visit_long_run"]
    assert abs(long_run["estimate"] / truth["per_visit_long_run"] - 1) < 0.15
    assert long_run["ci_low"] <= truth["per_visit_long_run"] <= long_run["ci_high"]
    assert abs(visits["carryover"]["estimate"] - truth["decay"]) < 0.1
    assert abs(visits["per_visit_same_month"]["estimate"] / truth["per_visit_same_month"] - 1) < 0.15
    # targeting bias: reps visit big prescribers, so the pooled slope is several times too large
    assert visits["naive_per_visit"] > 2 * truth["per_visit_long_run"]


@pytest.mark.slow
def test_event_effects_per_attendee(demo_world, demo_report):
    truth = demo_world.truth["events"]
    events = {e["event_type"]: e for e in demo_report.summary()["events"]}
    for event_type in ("seminar", "launch"):
        est = events[event_type]
        assert abs(est["per_attendee_total"]["estimate"] / truth[event_type]["per_attendee_total"] - 1) < 0.2
        assert abs(est["per_attendee_month"]["estimate"] / truth[event_type]["per_attendee_month"] - 1) < 0.2
    # the placebo conference: interval covers zero
    conference = events["conference"]["per_attendee_total"]
    assert conference["ci_low"] <= 0 <= conference["ci_high"]
    study = demo_report.tables["event_study"]
    assert {"event_type", "months_after", "estimate", "ci_low", "ci_high"} <= set(study.columns)


@pytest.mark.slow
def test_campaign_synthetic_control(demo_world, demo_report):
    campaign = demo_report.summary()["campaigns"][0]
    assert campaign["region"] == demo_world.truth["campaign"]["region"]
    # planted +12% on the base (visit/event lift not scaled), so the sales lift is a little lower
    assert 0.06 < campaign["lift_pct"] < 0.18
    assert campaign["placebo_rank"] == 1


def test_sales_only_and_no_visits():
    world = simulate("sample", seed=11)
    tables = dict(world.tables)
    tables["prescriptions"] = tables["prescriptions"].iloc[0:0]
    report = attribution.run(tables)
    assert report.summary()["outcome"] == "sales"
    assert report.summary()["visits"]["per_visit_long_run"] is not None
    assert any("account" in note for note in report.summary()["notes"])
    for name in ("doctors", "visits", "event_attendance"):
        tables[name] = tables[name].iloc[0:0]
    report = attribution.run(tables)
    assert report.summary()["visits"]["per_visit_long_run"] is None
    assert "cannot be estimated" in report.summary()["visits"]["method"]
    assert report.summary()["campaigns"][0]["lift_pct"] is not None
    assert {"roi_events", "roi_accounts", "event_study"} <= set(report.tables)


def test_missing_outcome_is_a_clear_error():
    tables = dict(simulate("sample", seed=11).tables)
    tables["prescriptions"] = tables["prescriptions"].iloc[0:0]
    tables["sales"] = tables["sales"].iloc[0:0]
    with pytest.raises(ValueError, match="prescriptions"):
        attribution.run(tables)


@pytest.mark.slow
def test_outputs_have_no_personal_fields(demo_report):
    for table in demo_report.tables.values():
        assert "name" not in table.columns
    assert np.isfinite(demo_report.tables["roi_accounts"]["marginal_value_per_extra_visit"]).all()


@pytest.mark.slow
def test_visit_effects_by_potential_segment(demo_world, demo_report):
    """Per tercile of pre-period prescriptions: within 25% of the planted effect of the visits made there.

    The simulator's beta is the same for every doctor, but high-potential doctors get more
    visits a month, so saturation lowers their average effect per visit; the segment truth
    is the planted curve averaged over each tercile's observed visits. A tercile has a third
    of the data and its interval is conditional on the pooled decay/saturation, hence 25%.
    """
    truth = demo_world.truth["visits"]
    segments = demo_report.summary()["visits"]["by_segment"]["segments"]
    assert [s["segment"] for s in segments] == ["low", "mid", "high"]
    t = demo_world.tables
    months = pd.DatetimeIndex(sorted(t["prescriptions"]["month"].unique()))
    counts = detailing_by_channel(t["visits"], t["doctors"], months, truth["product_id"])
    weights = truth["channel_weights"]
    effective = sum(weights.get(c, 0.0) * counts[f"detailing_{c}"] for c in weights)
    r, decay = truth["saturation"], truth["decay"]
    saturated = (1 - r ** effective) / (1 - r)
    raw = counts.filter(like="detailing_").sum(axis=1)
    # the planted average over all visits reproduces truth.json (checks the construction)
    overall = truth["beta_same_month"] * saturated.sum() / raw.sum() / (1 - decay)
    assert abs(overall / truth["per_visit_long_run"] - 1) < 0.01
    member = counts["doctor_id"].astype(str).map(demo_report.visit_model.segments_)
    for seg in segments:
        on = (member == seg["segment"]).to_numpy()
        planted = truth["beta_same_month"] * saturated[on].sum() / raw[on].sum() / (1 - decay)
        assert abs(seg["estimate"] / planted - 1) < 0.25, (seg["segment"], seg["estimate"], planted)
    # more visits per doctor-month in the high tercile (targeting), hence a lower effect per visit
    assert segments[2]["visits_per_unit_month"] > segments[0]["visits_per_unit_month"]


@pytest.fixture(scope="module")
def sample_result():
    return attribution.run(SAMPLE_DIR)


def test_result_fields_match_summary_and_tables(sample_result):
    """The typed fields are what the summary and the CSV tables are made of."""
    result = sample_result
    summary = result.summary()
    assert summary["product_id"] == result.product_id == "P01"
    assert summary["unit"] == "doctor" and summary["months"]["n"] == len(result.months)
    assert result.visit_model is result.visit_designs["fixed_effects"]
    assert summary["visits"]["per_visit_long_run"] == result.visit_model.results_.effect("per_visit_long_run")
    assert summary["visits"]["naive_per_visit"] == result.visit_benchmarks["naive"]["estimate"]
    assert set(result.event_studies) == {e["event_type"] for e in summary["events"] if "per_attendee_total" in e
                                         and e["per_attendee_total"] is not None}
    assert [c["event_id"] for c in summary["campaigns"]] == [c.event_id for c in result.campaigns]
    assert result.campaign_model is result.campaigns[0].model
    assert set(result.tables) == {"visit_effects", "visit_effects_by_segment", "response_curve", "carryover_curve",
                                  "naive_vs_causal", "visit_iv_effects", "roi_accounts", "campaign_path",
                                  "campaign_placebo", "event_study", "roi_events"}
    pd.testing.assert_frame_equal(result.tables["roi_accounts"], result.roi_accounts)
    assert summary["rejects"] == {"rows": 0, "by_table": {}, "by_check": {}}


def test_alpha_sets_every_interval(sample_result):
    """alpha=0.1 gives 90% intervals with the same estimates, in every part of the analysis."""
    result = attribution.run(SAMPLE_DIR, alpha=0.1)
    base = sample_result.summary()
    wide, narrow = base["visits"]["per_visit_long_run"], result.summary()["visits"]["per_visit_long_run"]
    assert narrow["estimate"] == pytest.approx(wide["estimate"], rel=1e-9)
    assert narrow["ci_high"] - narrow["ci_low"] < wide["ci_high"] - wide["ci_low"]
    assert "90% interval" in result.summary()["visits"]["by_segment"]["method"]
    assert "95% interval" in base["visits"]["by_segment"]["method"]
    study = result.event_study.set_index(["event_type", "months_after"])
    base_study = sample_result.event_study.set_index(["event_type", "months_after"])
    assert np.allclose(study["estimate"], base_study["estimate"])
    assert ((study["ci_high"] - study["ci_low"]) <= (base_study["ci_high"] - base_study["ci_low"]) + 1e-12).all()
    naive = result.visit_benchmarks["naive"]
    assert naive["ci_high"] - naive["ci_low"] < \
        sample_result.visit_benchmarks["naive"]["ci_high"] - sample_result.visit_benchmarks["naive"]["ci_low"]


@pytest.mark.parametrize("alpha", [0.0, 1.5])
def test_alpha_outside_unit_interval_is_named(alpha):
    with pytest.raises(ParameterError, match="alpha"):
        attribution.run(SAMPLE_DIR, alpha=alpha)


def test_product_id_parameter_chooses_the_product():
    result = attribution.run(SAMPLE_DIR, product_id="P02")
    assert result.product_id == result.summary()["product_id"] == "P02"


@pytest.mark.slow
def test_event_effects_do_not_depend_on_string_hashing():
    """Two processes with different hash seeds agree to 1e-9 (pyfixest sweeps fixed effects in
    an order that follows string hashing; a loose tolerance made results differ by ~1e-5)."""
    import json
    import os
    import subprocess
    import sys

    script = ("import json; from crmlab.analyses import attribution; from crmlab.simulate import simulate; "
              "t = dict(simulate('sample', seed=11).tables); t['prescriptions'] = t['prescriptions'].iloc[0:0]; "
              "s = attribution.run(t).summary(); "
              "print(json.dumps([[e['per_attendee_total']['estimate'], e['pretrend_p_value']] "
              "for e in s['events'] if e.get('per_attendee_total')]))")
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                      env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip().splitlines()[-1])
            for seed in ("0", "3")]
    assert len(runs[0]) >= 2
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-9)


def test_a_sampled_panel_equals_the_full_panels_rows_of_its_doctors():
    """National scale builds an event study's panel from its sample's visits and prescriptions only."""
    from crmlab.analyses.attribution.setting import setting_of
    from crmlab.analyses.base import contract_tables
    from crmlab.models.attribution.events import sample_units

    params = attribution.AttributionParams()
    tables, _ = contract_tables(SAMPLE_DIR, params, attribution.TABLES)
    setting = setting_of(tables, params)
    sample = sample_units(tables["doctors"]["doctor_id"], 40, 3)
    for product in tables["products"]["product_id"].astype(str):
        full = setting.panel(product)
        expected = full[full["doctor_id"].astype(str).isin(sample).to_numpy()].reset_index(drop=True)
        got = setting.panel(product, sample)
        assert len(got) == 40 * len(setting.months)
        pd.testing.assert_frame_equal(got.astype({"doctor_id": str, "account_id": str}),
                                      expected.astype({"doctor_id": str, "account_id": str}), check_exact=True)
