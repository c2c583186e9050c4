"""Segmentation end to end: parameters, parts the data supports, markets without a field force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr

from crmlab import config
from crmlab.features.callplan import call_plan_compliance, sfe_kpis
from crmlab.features.deciles import account_deciles, doctor_deciles, volume_deciles
from crmlab.features.indicators import doctor_indicators
from crmlab.features.segmentation import Skipped, run_part, segmentation_parts
from crmlab.features.volumes import recent_sell_out
from crmlab.models.segmentation import DoctorGrader, doctor_value_estimate, grade_doctors, grading_params
from crmlab.reporting import segmentation as report
from crmlab.reporting.segmentation_explorer import SegmentationExplorer
from crmlab.simulate import simulate
from worlds import world_indicators, planted_potential


QUOTA = {"A": 4, "B": 2, "C": 1, "D": 0}


def test_yaml_parameters_match_notebook_and_drive_grades(tmp_path, sample_world):
    defaults = config.load_params("segmentation")
    assert "out_dir" not in defaults
    import papermill

    declared = papermill.inspect_notebook(str(config.NOTEBOOKS_DIR / "segmentation" / "segmentation.ipynb"))
    assert set(defaults) <= set(declared)
    for key, value in defaults.items():
        assert eval(declared[key]["default"]) == value, key  # noqa: S307 - literals written by us
    override = tmp_path / "p.yaml"
    override.write_text(yaml.safe_dump({"grade_a_min": 101}), encoding="utf-8")
    params = config.load_params("segmentation", override)
    indicators = world_indicators(sample_world)
    grades = DoctorGrader(**grading_params(params)).fit(indicators).predict(indicators)
    assert "A" not in set(grades) and "A" in set(DoctorGrader(**grading_params(defaults)).fit(indicators)
        .predict(indicators))


@pytest.mark.slow
def test_run_segmentation_with_override_writes_outputs(tmp_path):
    from crmlab.runner import run_analysis

    only_tier = {"weight_tier": 1.0, "weight_title": 0.0, "weight_outpatients": 0.0, "weight_beds": 0.0,
                 "weight_volume": 0.0}
    folder = run_analysis("segmentation", data_dir=config.SAMPLE_DIR, out_dir=tmp_path, overrides=only_tier,
                          progress=False)
    doctors = pd.read_csv(folder / "doctors.csv", dtype={"doctor_id": str, "account_id": str})
    assert {"doctor_id", "score", "grade", "decile", "segment"} <= set(doctors.columns)
    assert "name" not in doctors.columns
    names = pd.read_csv(config.SAMPLE_DIR / "doctors.csv")["name"]
    text = (folder / "doctors.csv").read_text(encoding="utf-8")
    assert not any(name in text for name in names)
    expected = doctors["tier"].map({"3A": "A", "3B": "A", "2A": "B", "2B": "C", "1": "D"}).fillna("D")
    assert (doctors["grade"] == expected).all()  # the -p override reached the grades
    accounts = pd.read_csv(folder / "accounts.csv")
    assert {"account_id", "potential", "adoption", "quadrant", "decile"} <= set(accounts.columns)
    compliance = pd.read_csv(folder / "compliance.csv")
    assert list(compliance.columns) == ["rep_id", "month", "grade", "doctors", "planned", "actual", "compliance"]
    import json

    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["grade_counts"] == doctors["grade"].value_counts().to_dict()
    assert 0 < summary["latest_month_compliance"] < 2


SALES_ONLY = ("doctors", "reps", "visits", "event_attendance")  # + no prescriptions file


DOCTORS_NO_VISITS = ("visits", "event_attendance")  # doctor profiles and reps, no CRM calls, no prescriptions


def _tables_without(world, empty):
    """The world's tables with ``empty`` emptied (header only) and no prescriptions table."""
    tables = {name: (table.iloc[0:0] if name in empty else table) for name, table in world.tables.items()
              if name != "prescriptions"}
    if "doctors" in empty:  # a market without doctor data has no event attendance to doctors either
        tables["events"] = tables["events"][tables["events"]["event_type"] == "advertising"]
    return tables


def _write_without(world, folder, empty):
    from crmlab.simulate import write_world

    write_world(world, folder)
    (folder / "prescriptions.csv").unlink()
    for name, table in _tables_without(world, empty).items():
        table.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    return folder


def test_parts_follow_the_tables(sample_world):
    sales_only = segmentation_parts(_tables_without(sample_world, SALES_ONLY))
    ran = set(sales_only.index[sales_only["available"]])
    assert ran == {"account_segments", "account_deciles"}
    assert sales_only.loc["call_plan", "needs"] == "doctors, reps, visits"
    assert sales_only.loc["clusters", "needs"] == "doctors, visits or prescriptions"
    no_visits = segmentation_parts(_tables_without(sample_world, DOCTORS_NO_VISITS))
    assert set(no_visits.index[no_visits["available"]]) == {
        "account_segments", "account_deciles", "doctor_grading", "value_estimate", "doctor_deciles", "explorer"}
    assert no_visits.loc["call_plan", "needs"] == "visits"
    full = segmentation_parts(sample_world.tables)
    assert full["available"].all()


def test_skipped_part_says_which_table_and_propagates(sample_world):
    parts = segmentation_parts(_tables_without(sample_world, SALES_ONLY))
    compliance = run_part(parts, "call_plan", call_plan_compliance, None, None, None, QUOTA)
    assert isinstance(compliance, Skipped)
    assert "needs the doctors, reps, visits table(s)" in repr(compliance)
    assert "not available" in compliance._repr_markdown_()
    # downstream steps and plots return the note instead of failing
    assert run_part(parts, "call_plan", sfe_kpis, compliance, QUOTA) == compliance
    assert report.latest_month(compliance) is compliance
    assert report.plot_compliance_heatmap(compliance) is compliance
    grades = run_part(parts, "doctor_grading", DoctorGrader().fit, None)
    assert report.grade_table(grades).part == "doctor_grading"
    with pytest.raises(ValueError, match="unknown segmentation part"):
        run_part(parts, "astrology", len, [])


def test_account_deciles_per_product_equal_a_recount(sample_world):
    t = _tables_without(sample_world, SALES_ONLY)
    deciles = account_deciles(t["sales"], accounts=t["accounts"], products=t["products"], months=12)
    assert len(deciles) == len(t["accounts"])
    sales = t["sales"][t["sales"]["date"] >= "2025-01-01"]  # the simulated data end in December 2025
    for product in sorted(sales["product_id"].unique()):
        volume = sales[sales["product_id"] == product].groupby("account_id")["units"].sum()
        volume = volume.reindex(t["accounts"]["account_id"], fill_value=0.0)
        expected = volume_deciles(volume)
        np.testing.assert_array_equal(deciles[f"decile_{product}"].to_numpy(), expected.to_numpy())
        top = volume.idxmax()
        assert deciles.loc[top, f"decile_{product}"] == 10
    before = account_deciles(t["sales"], accounts=t["accounts"], products=t["products"], months=12, lag=12)
    moves = report.migration(before, deciles)
    assert moves.to_numpy().sum() == len(t["accounts"])
    assert np.trace(moves.to_numpy()) < len(t["accounts"])  # accounts do move between periods
    with pytest.raises(ValueError, match="'sales' table is empty"):
        account_deciles(t["sales"].iloc[0:0])


def test_grading_and_value_estimate_without_visits_or_prescriptions(demo_world):
    # doctor profiles collected by reps, account sales, no visits, no prescriptions:
    # measured Spearman vs planted potential on demo seeds 1, 2: score 0.639, 0.640;
    # value estimate 0.658, 0.651 (same as test_value_estimate_from_account_sales_ranks_like_potential)
    t = _tables_without(demo_world, DOCTORS_NO_VISITS)
    parts = segmentation_parts(t)
    indicators = run_part(parts, "doctor_grading", doctor_indicators, t["doctors"], t["accounts"],
        t.get("prescriptions"), products=t["products"])
    grader = run_part(parts, "doctor_grading", DoctorGrader().fit, indicators)
    graded = run_part(parts, "doctor_grading", grade_doctors, grader, indicators)
    assert not grader.volume_used_
    sell_out = run_part(parts, "value_estimate", recent_sell_out, t["sales"], products=t["products"])
    value = run_part(parts, "value_estimate", doctor_value_estimate, indicators, grader, sell_out)
    potential = planted_potential(demo_world, indicators["doctor_id"])
    assert spearmanr(graded["score"], potential)[0] > 0.57
    assert spearmanr(value.to_numpy(), potential)[0] > 0.6
    deciles = run_part(parts, "doctor_deciles", doctor_deciles, t.get("prescriptions"),
        fallback=value)
    assert (deciles["basis"] == "value_estimate").all() and deciles["decile"].max() == 10
    assert isinstance(run_part(parts, "call_plan", call_plan_compliance, t["visits"], t["reps"],
        graded, QUOTA), Skipped)
    # the explorer still regrades; its compliance table is empty
    explorer = SegmentationExplorer(indicators, t["visits"], t["reps"], params={}, quota=QUOTA,
        segments=Skipped("clusters", "visits"))
    before = explorer.tables["grades"].copy()
    explorer.weights["tier"].value = 0.9
    assert not explorer.tables["grades"].equals(before)
    assert explorer.tables["compliance"].empty and "No completed visits" in explorer.html["compliance"].value


@pytest.mark.slow
def test_run_sales_only_market(tmp_path):
    import json

    from crmlab.runner import run_analysis

    world = simulate("sample", seed=3)
    data = _write_without(world, tmp_path / "data", SALES_ONLY)
    folder = run_analysis("segmentation", data_dir=data, out_dir=tmp_path / "out", progress=False)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert {p for p, status in summary["parts"].items() if status == "ran"} == {"account_segments",
        "account_deciles"}
    assert summary["parts"]["call_plan"] == "skipped: needs doctors, reps, visits"
    assert summary["grade_counts"] is None and summary["latest_month_compliance"] is None
    accounts = pd.read_csv(folder / "accounts.csv", dtype={"account_id": str})
    assert set(accounts["quadrant"]) == {"Win", "Defend", "Grow", "Maintain"}
    own = world.tables["products"].loc[~world.tables["products"]["is_competitor"], "product_id"]
    assert {f"decile_{p}" for p in own} <= set(accounts.columns)
    assert sum(summary["quadrant_counts"].values()) == len(accounts) == len(world.tables["accounts"])
    assert pd.read_csv(folder / "doctors.csv").empty and pd.read_csv(folder / "compliance.csv").empty
    assert not (folder / "rep_kpis.csv").exists()
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Traceback" not in html
    for label in ("Doctor grading", "Behavioural clusters of doctors", "Call plan and SFE KPIs",
                  "Manager explorer"):
        assert f"{label}: not available - needs the doctors" in html


@pytest.mark.slow
def test_run_doctor_profiles_without_visits(tmp_path):
    import json

    from crmlab.runner import run_analysis

    world = simulate("sample", seed=3)
    data = _write_without(world, tmp_path / "data", DOCTORS_NO_VISITS)
    folder = run_analysis("segmentation", data_dir=data, out_dir=tmp_path / "out", progress=False)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    ran = {p for p, status in summary["parts"].items() if status == "ran"}
    assert {"doctor_grading", "value_estimate", "doctor_deciles", "explorer", "account_segments"} <= ran
    assert summary["parts"]["call_plan"] == "skipped: needs visits"
    assert summary["volume_used_in_grading"] is False
    doctors = pd.read_csv(folder / "doctors.csv", dtype={"doctor_id": str, "account_id": str})
    assert len(doctors) == len(world.tables["doctors"]) == sum(summary["grade_counts"].values())
    assert doctors["value_estimate"].notna().all() and doctors["segment"].isna().all()
    # Spearman vs planted potential, no visits and no prescriptions, sample worlds (300 doctors)
    # seeds 1, 2, 3, 7: score 0.595, 0.721, 0.542, 0.638; value estimate 0.627, 0.726, 0.569, 0.676
    potential = planted_potential(world, doctors["doctor_id"])
    assert spearmanr(doctors["score"], potential)[0] > 0.45
    assert spearmanr(doctors["value_estimate"], potential)[0] > 0.5
    assert pd.read_csv(folder / "compliance.csv").empty
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Call plan and SFE KPIs: not available - needs the visits table(s)" in html
    assert "Traceback" not in html


def test_run_in_python_on_sales_only_market(tmp_path):
    from crmlab.analyses import segmentation
    from crmlab.reporting.segmentation import key_findings, recorded_checks

    world = simulate("sample", seed=3)
    result = segmentation.run(_write_without(world, tmp_path / "data", SALES_ONLY), seed=3)
    assert isinstance(result.params, segmentation.SegmentationParams) and result.params.seed == 3
    summary = result.summary()
    assert {p for p, status in summary["parts"].items() if status == "ran"} == {"account_segments",
                                                                               "account_deciles"}
    assert summary["rejects"]["rows"] == 0
    assert isinstance(result.graded, Skipped) and isinstance(result.clusters, Skipped)
    assert result.tables["doctors"].empty and list(result.tables["compliance"].columns)[0] == "rep_id"
    assert set(result.tables) == {"doctors", "accounts", "compliance"}
    assert sum(summary["quadrant_counts"].values()) == len(result.tables["accounts"])
    findings = key_findings(result)
    assert findings[0].startswith(f"{len(world.tables['accounts'])} accounts by potential")
    assert "Call plan and SFE KPIs (needs doctors, reps, visits)" in findings[-1]
    assert recorded_checks(result, tmp_path / "data").empty  # nothing recorded for other data


def test_parameters_are_checked_by_name_and_type():
    from crmlab.analyses import segmentation
    from crmlab.analyses.base import ParameterError

    with pytest.raises(ParameterError, match="did you mean 'weight_tier'"):
        segmentation.run("data/sample", weight_tie=0.4)
    with pytest.raises(ParameterError, match="'tier_points' must be dict"):
        segmentation.run("data/sample", tier_points=[100, 80])
    assert segmentation.SegmentationParams.check({"quota_a": 6}).quota_a == 6.0
