"""The simulated world holds what it promises, and is reproducible."""

import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from crmlab.config import SAMPLE_DIR
from crmlab.features import channel_panel, doctor_month_panel
from crmlab.simulate import simulate, write_world


@pytest.fixture(scope="module")
def demo():
    return simulate("demo", seed=11)


def _panel(world, product="P01"):
    t = world.tables
    return doctor_month_panel(t["doctors"], t["visits"], t["prescriptions"], products=t["products"],
                              product_ids=product)


def test_same_seed_same_bytes(tmp_path):
    a = write_world(simulate("sample", seed=3), tmp_path / "a")
    b = write_world(simulate("sample", seed=3), tmp_path / "b")
    c = write_world(simulate("sample", seed=4), tmp_path / "c")
    names = sorted(p.name for p in a.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors
    assert not filecmp.cmp(a / "prescriptions.csv", c / "prescriptions.csv", shallow=False)


def test_committed_sample_is_the_seed_7_world(tmp_path):
    fresh = write_world(simulate("sample", seed=7), tmp_path / "sample")
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(p.name for p in SAMPLE_DIR.iterdir() if p.name != "rejects.csv")
    _, mismatch, errors = filecmp.cmpfiles(fresh, SAMPLE_DIR, names, shallow=False)
    assert not mismatch and not errors, "data/sample is stale: run `make sample`"
    size = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir())
    assert size <= 5 * 2**20
    assert 200 <= json.loads((SAMPLE_DIR / "truth.json").read_text())["config"]["n_doctors"] <= 900


def test_sample_passes_the_data_contract():
    from crmlab.io import validate

    report = validate(SAMPLE_DIR)
    assert report.ok, report.to_text()


def test_master_data_shape(demo):
    t = demo.tables
    assert set(t["accounts"]["account_type"]) == {"hospital", "clinic", "pharmacy"}
    assert t["accounts"]["tier"].dropna().nunique() >= 4
    assert t["accounts"]["region"].nunique() == 8
    assert t["accounts"]["account_id"].str.startswith("0").all()  # IDs with leading zeros
    assert t["products"]["is_competitor"].sum() == 1
    assert t["doctors"]["title"].nunique() == 4 and t["doctors"]["specialty"].nunique() == 5
    assert t["reps"]["end_date"].notna().any()  # some reps leave: coverage gaps


def test_naive_visit_effect_overstates_several_times(demo):
    panel = _panel(demo)
    naive = np.polyfit(panel["detailing_visits"], panel["trx"], 1)[0]
    truth = demo.truth["visits"]["per_visit_long_run"]
    assert naive > 2.5 * truth
    # targeting: the top potential decile gets several times the visits of the bottom half
    potential = demo.truth_doctors.set_index("doctor_id")["potential"]
    visits = panel.groupby("doctor_id")["visits"].mean()
    top = visits[potential.rank(pct=True) > 0.9].mean()
    bottom = visits[potential.rank(pct=True) <= 0.5].mean()
    assert top > 4 * bottom


def test_within_doctor_variation_in_visits(demo):
    panel = _panel(demo)
    within_sd = panel.groupby("doctor_id")["visits"].std().median()
    assert within_sd > 0.5  # staffing and effort move visits month to month


def test_visit_effect_truth_is_consistent(demo):
    v = demo.truth["visits"]
    assert v["first_visit_long_run"] == pytest.approx(v["beta_same_month"] / (1 - v["decay"]))
    # diminishing returns: each further visit in a month adds less
    assert np.all(np.diff(v["marginal_by_visit_number"]) < 0)
    assert v["per_visit_long_run"] < v["first_visit_long_run"]


def test_event_attendees_chosen_by_potential(demo):
    attended = set(demo.tables["event_attendance"]["doctor_id"])
    potential = demo.truth_doctors.set_index("doctor_id")["potential"]
    assert potential[potential.index.isin(attended)].mean() > 1.5 * potential[~potential.index.isin(attended)].mean()
    events = demo.tables["events"]
    assert {"seminar", "launch", "conference", "advertising"} <= set(events["event_type"])
    assert events.loc[events["event_type"] == "advertising", "region"].iat[0] == demo.truth["campaign"]["region"]


def test_lapse_has_a_visible_decline_before_zero(demo):
    panel = _panel(demo)
    truth = demo.truth_doctors
    lapsed = truth[(truth["lapse_onset_month"] >= 6) & (truth["lapse_onset_month"] < 30)]
    assert 0.1 < demo.truth["lapse"]["share_lapsing"] < 0.45
    wide = panel.pivot(index="doctor_id", columns="month", values="trx").loc[lapsed["doctor_id"]].to_numpy()
    onset = lapsed["lapse_onset_month"].to_numpy()
    rows = np.arange(len(onset))
    before = wide[rows[:, None], onset[:, None] - np.arange(1, 4)].mean()
    declining = wide[rows, onset + 1].mean()
    after = wide[rows[:, None], onset[:, None] + np.arange(3, 6)]
    assert declining < 0.7 * before
    assert (after == 0).all()


def test_lapse_hazard_driven_by_visit_gaps(demo):
    """Doctors left without a visit lapse more often (an observable signal)."""
    panel = _panel(demo)
    truth = demo.truth_doctors.set_index("doctor_id")
    gap = (panel.assign(none=panel["visits"] == 0).groupby("doctor_id")["none"]
           .apply(lambda s: s.rolling(3).sum().eq(3).any()))
    lapsed = truth["lapse_onset_month"] >= 0
    assert lapsed[gap[gap].index].mean() > 1.3 * lapsed[gap[~gap].index].mean()


def test_sell_in_lumpier_than_sell_out(demo):
    t = demo.tables
    panel = channel_panel(t["shipments"], t["sales"], t["inventory"])
    cv = panel.groupby(["distributor_id", "product_id"])[["sell_in", "sell_out"]].agg(
        lambda s: s[12:].std() / s[12:].mean())
    assert (cv["sell_in"] > cv["sell_out"]).mean() > 0.8
    assert (panel["inventory"] >= 0).all()
    # the inventory identity holds: I_t = I_{t-1} + sell_in - sell_out
    for _, g in panel.groupby(["distributor_id", "product_id"]):
        change = g["inventory"].diff().iloc[1:].to_numpy()
        flow = (g["sell_in"] - g["sell_out"]).iloc[1:].to_numpy()
        np.testing.assert_allclose(change, flow, atol=0.11)


def test_seasonality_and_trend(demo):
    sales = demo.tables["sales"]
    monthly = sales.groupby(sales["date"].dt.to_period("M"))["units"].sum()
    by_month = monthly.groupby(monthly.index.month).mean()
    assert by_month[1] > by_month[7]  # winter peak
    assert monthly.iloc[-12:].sum() > monthly.iloc[:12].sum() * 0.9


def test_unknown_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="scale must be one of"):
        simulate("galactic")


# ---------------------------------------------------------------- options (issue 17)

def test_options_switched_off_give_the_default_world(tmp_path):
    """Options draw from their own streams: passing their off values changes nothing."""
    from crmlab.simulate import OPTIONS

    a = write_world(simulate("sample", seed=3), tmp_path / "a")
    b = write_world(simulate("sample", seed=3, **OPTIONS), tmp_path / "b")
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors
    assert "targeting" not in json.loads((a / "truth.json").read_text())


@pytest.fixture(scope="module")
def feedback_sample():
    from crmlab.simulate import FEEDBACK_WORLD

    return simulate("sample", seed=5, **FEEDBACK_WORLD)


def test_rep_absences_are_written_in_the_contract(feedback_sample, tmp_path):
    from crmlab.io import load, validate

    out = write_world(feedback_sample, tmp_path / "world")
    report = validate(out)
    assert report.ok, report.to_text()
    absences = load(out)["rep_absences"]
    assert len(absences) > 0
    assert set(absences["rep_id"]) <= set(feedback_sample.tables["reps"]["rep_id"])
    assert (absences["end_date"] >= absences["start_date"]).all()
    assert set(absences["reason"]) <= {"leave", "training", "sick"}
    days = ((absences["end_date"] - absences["start_date"]).dt.days + 1).sum()
    assert days == feedback_sample.truth["targeting"]["rep_absence_days"]
    # a world written over an options world drops the table it no longer has
    write_world(simulate("sample", seed=5), tmp_path / "world")
    assert not (tmp_path / "world" / "rep_absences.csv").exists()


def test_no_visit_on_a_day_the_rep_is_away(feedback_sample):
    t = feedback_sample.tables
    days = t["rep_absences"].assign(day=[pd.date_range(a, b) for a, b in
                                         zip(t["rep_absences"]["start_date"], t["rep_absences"]["end_date"])])
    away = set(days.explode("day").set_index(["rep_id", "day"]).index)
    visits = t["visits"]
    assert not any(key in away for key in zip(visits["rep_id"], visits["date"]))


def test_truth_records_the_options(feedback_sample):
    from crmlab.simulate import FEEDBACK_WORLD

    truth = feedback_sample.truth
    for key, value in FEEDBACK_WORLD.items():
        assert truth["targeting"][key] == value == truth["config"][key]
    # the visit effect itself is the default one: planted and realised long-run effect per visit
    assert truth["visits"]["first_visit_long_run"] == pytest.approx(1.2)
    assert 0.5 < truth["visits"]["per_visit_long_run"] < 1.2


def _surprise_response(world):
    """Within-doctor slope of log visits on last month's prescribing relative to the doctor's mean."""
    panel = _panel(world)
    wide_v = panel.pivot(index="doctor_id", columns="month", values="detailing_visits").to_numpy()
    wide_y = panel.pivot(index="doctor_id", columns="month", values="trx").to_numpy()
    surprise = np.log1p(wide_y[:, :-1]) - np.log1p(wide_y).mean(axis=1, keepdims=True)
    visits = wide_v[:, 1:] - wide_v.mean(axis=1, keepdims=True)
    ok = wide_y.mean(axis=1) > 2
    return float(np.polyfit(surprise[ok].ravel(), visits[ok].ravel(), 1)[0])


@pytest.mark.slow
def test_feedback_targeting_makes_reps_chase_demand(demo):
    """Under feedback targeting, visits follow last month's prescribing; without it they do not (much)."""
    from crmlab.simulate import FEEDBACK_WORLD

    chasing = simulate("demo", seed=11, **FEEDBACK_WORLD)
    assert _surprise_response(chasing) > 0.3
    assert _surprise_response(chasing) > 3 * abs(_surprise_response(demo))
