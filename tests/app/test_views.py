"""The dashboard's views without a browser: set a widget's ``.value``, read the tables."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from crmlab.app import DATA_ENV, REPORTS_ENV, app_environment, voila_command
from crmlab.app.early_warning import EarlyWarningView, filter_alerts
from crmlab.app.segments import ALL, PLACE_COLUMNS, SegmentsView, segment_tables
from crmlab.app.sources import LIVE_LIMIT, Source, published_runs_of
from crmlab.config import SAMPLE_DIR
from crmlab.simulate import simulate

QUOTA = {"A": 4, "B": 2, "C": 1, "D": 0}


@pytest.fixture(scope="module")
def world():
    return simulate("sample", seed=7).tables


@pytest.fixture(scope="module")
def indicators(world):
    # the Segments view regrades with the segmentation analysis' own grader and explorer
    pytest.importorskip("crmlab.reporting.segmentation_explorer", reason="segmentation analysis not merged yet")
    from crmlab.features.indicators import doctor_indicators

    return doctor_indicators(world["doctors"], world["accounts"], world["prescriptions"],
                             products=world["products"])


def _segments_view(world, indicators, baseline=None):
    compute = functools.partial(segment_tables, indicators, world["visits"], world["reps"], quota=QUOTA,
                                baseline=baseline)
    return SegmentsView(indicators[PLACE_COLUMNS], compute, params={})


def test_weight_slider_regrades_and_the_page_follows(world, indicators):
    baseline = segment_tables(indicators, world["visits"], world["reps"], params={}, quota=QUOTA)
    view = _segments_view(world, indicators)
    before_counts, before_html = view.tables["grade_counts"].copy(), view.counts.value
    assert before_counts["doctors"].sum() == len(indicators)
    assert before_counts.equals(baseline["grade_counts"])

    view.weights["tier"].value = 0.9
    assert not view.tables["grade_counts"].equals(before_counts)
    assert view.counts.value != before_html
    # the view shows exactly what the pure function computes for those parameters
    expected = segment_tables(indicators, world["visits"], world["reps"], params=view.current_params(),
                              quota=QUOTA)
    for name in ("grade_counts", "grades_by_region", "compliance"):
        pd.testing.assert_frame_equal(view.tables[name], expected[name])


def test_grade_shift_against_the_published_grades(world, indicators):
    from crmlab.models.segmentation import DoctorGrader, grading_params

    graded = DoctorGrader(**grading_params({})).fit(indicators).transform(indicators)
    baseline = pd.Series(graded["grade"].to_numpy(), index=indicators["doctor_id"].to_numpy())
    view = _segments_view(world, indicators, baseline)
    shift = view.tables["grade_shift"]
    assert (shift.to_numpy().diagonal() == shift.sum(axis=1).to_numpy()).all()  # nothing moved yet
    view.thresholds["A"].value = 100.0
    shift = view.tables["grade_shift"]
    assert shift["A"].sum() == 0 and shift.loc["A", "B"] == (baseline == "A").sum()
    assert "Grade shift" in view.html["grade_shift"].value


def test_region_narrows_territories_and_filters_every_table(world, indicators):
    view = _segments_view(world, indicators)
    region = sorted(indicators["region"].unique())[0]
    view.region.value = region
    in_region = sorted(indicators.loc[indicators["region"] == region, "territory_id"].unique())
    assert list(view.territory.options) == [ALL, *in_region]
    assert view.tables["grade_counts"]["doctors"].sum() == (indicators["region"] == region).sum()
    assert view.tables["grades_by_region"].index.tolist() == [region]
    reps = set(world["reps"].loc[world["reps"]["territory_id"].isin(in_region), "rep_id"])
    assert set(view.tables["compliance"]["rep_id"]) <= reps

    view.territory.value = in_region[0]
    chosen = indicators["territory_id"] == in_region[0]
    assert view.tables["grade_counts"]["doctors"].sum() == chosen.sum()
    specialties = sorted(indicators.loc[chosen, "specialty"].unique())
    assert list(view.specialty.options) == [ALL, *specialties]
    view.specialty.value = specialties[0]
    assert view.tables["grade_counts"]["doctors"].sum() == (chosen & (indicators["specialty"] == specialties[0])).sum()

    view.region.value = ALL  # back to every territory
    assert len(view.territory.options) == indicators["territory_id"].nunique() + 1


def test_thresholds_out_of_order_say_so(world, indicators):
    view = _segments_view(world, indicators)
    view.thresholds["B"].value = 100.0
    view.thresholds["A"].value = 50.0
    assert "A >= B >= C" in view.message.value


def _lists():
    early = pd.DataFrame({"entity_id": ["D1", "D2", "D3"], "region": ["N", "S", "N"],
                          "territory_id": ["T1", "T2", "T3"], "risk": [0.9, 0.8, 0.5],
                          "risk_model": "boosting", "p_alive": [float("nan")] * 3,
                          "volume_at_stake": [40.0, 30.0, 3.0], "risk_x_volume": [36.0, 24.0, 1.5],
                          "months_without_volume": [0, 1, 0],
                          "reasons": ["not visited for 2 months", "visits down by 2 on the quarter before", ""]})
    win_back = early.iloc[[0]].assign(entity_id="D9", months_without_volume=3)
    return {"early_warning": early, "win_back": win_back}


def test_early_warning_filters():
    view = EarlyWarningView(_lists(), caption="from the boosting model")
    assert view.shown["early_warning"]["entity_id"].tolist() == ["D1", "D2", "D3"]
    view.region.value = "N"
    assert list(view.territory.options) == [ALL, "T1", "T3"]
    assert view.shown["early_warning"]["entity_id"].tolist() == ["D1", "D3"]
    view.min_volume.value = 10.0
    assert view.shown["early_warning"]["entity_id"].tolist() == ["D1"]
    assert view.shown["win_back"]["entity_id"].tolist() == ["D9"]
    view.territory.value = "T3"
    assert view.shown["early_warning"].empty and "None with these filters" in view.html["early_warning"].value
    html = view.html["win_back"].value + view.html["early_warning"].value
    assert "p_alive" not in html  # empty throughout: not shown


def test_filter_alerts_keeps_the_ranking():
    early = _lists()["early_warning"]
    assert filter_alerts(early, min_volume=3.0)["entity_id"].tolist() == ["D1", "D2", "D3"]
    assert filter_alerts(early, territory="T2")["entity_id"].tolist() == ["D2"]


def test_source_and_server_settings(tmp_path, monkeypatch):
    assert Source.from_environment({}).kind == "data"
    assert Source.from_environment({}).path == SAMPLE_DIR
    assert Source.from_environment({REPORTS_ENV: str(tmp_path)}).kind == "reports"
    assert "--Voila.ip=127.0.0.1" in voila_command()  # localhost unless told otherwise
    env = app_environment(data="data/sample")
    assert env[DATA_ENV] == str(SAMPLE_DIR) and REPORTS_ENV not in env


def test_national_scale_uses_published_runs(tmp_path):
    import json

    data = tmp_path / "big"
    data.mkdir()
    (data / "doctors.csv").write_text("doctor_id\n" + "\n".join(f"D{i}" for i in range(LIVE_LIMIT + 1)) + "\n")
    reports = tmp_path / "reports"
    assert Source.data(data, reports_dir=reports).kind == "data"  # nothing published: live, and says it is slow
    assert "takes minutes" in Source.data(data, reports_dir=reports).note
    (reports / "churn").mkdir(parents=True)
    (reports / "churn" / "run.json").write_text(json.dumps({"data_dir": str(data)}))
    assert published_runs_of(data, reports) == ["churn"]
    source = Source.data(data, reports_dir=reports)
    assert source.kind == "reports" and "precomputed" in source.note
    assert Source.data(SAMPLE_DIR, reports_dir=reports).kind == "data"  # the sample is computed live


@pytest.mark.slow
def test_dashboard_on_the_sample_and_on_what_it_published(tmp_path):
    """The whole dashboard on data/sample (live), then on the same results saved as a run publishes them."""
    import json

    pytest.importorskip("crmlab.analyses.segmentation", reason="segmentation analysis not merged yet")
    from crmlab.app.dashboard import Dashboard

    names = pd.read_csv(SAMPLE_DIR / "doctors.csv", usecols=["name"])["name"].dropna().tolist()
    live = Dashboard(Source.data(SAMPLE_DIR)).start()
    segments = live.views["segments"]
    assert segments.tables["grade_counts"]["doctors"].sum() == 300
    assert live.progress.bar_style == "success" and "done in" in live.status.value
    live.tabs.selected_index = 1  # opening the tab computes the churn lists
    early = live.views["early_warning"]
    assert "boosting" in early.widget.children[0].value or "model" in early.widget.children[0].value
    assert len(early.lists["early_warning"]) + len(early.lists["win_back"]) > 0
    live.tabs.selected_index = 2  # the call plan, with its capacity slider live
    plan = live.views["callplan"]
    assert not plan.capacity_change.disabled and len(plan.tables["see more"]) > 0
    live.tabs.selected_index = 3  # why sales moved: the national bridge first, then a region's
    bridge = live.views["drivers"]
    national = bridge.shown.set_index("driver")["change"]
    assert national.drop("total").sum() == pytest.approx(national["total"])
    bridge.level.value = "region"
    assert bridge.shown["change"].tolist() != national.tolist()
    html = segments.counts.value + bridge.html.value + "".join(
        h.value for h in [*segments.html.values(), *early.html.values(), *plan.html.values()])
    assert not any(name in html for name in names)

    # the same results, published: the app reads them instead of computing
    reports = tmp_path / "reports"
    from crmlab.analyses import callplan, churn, drivers, segmentation

    for module, result in ((segmentation, live._segmentation), (churn, None), (callplan, None),
                           (drivers, None)):
        result = result if result is not None else module.run(SAMPLE_DIR)
        folder = reports / module.__name__.rsplit(".", 1)[-1]
        result.save(folder)
        (folder / "run.json").write_text(json.dumps({"data_dir": str(SAMPLE_DIR), "finished": "2026-01-01T00:00"}))
    published = Dashboard(Source.reports(reports)).start()
    shown = published.views["segments"]
    assert shown.weights["tier"].disabled  # no regrading without data
    pd.testing.assert_frame_equal(shown.tables["grade_counts"], segments.tables["grade_counts"],
                                  check_dtype=False)
    published.tabs.selected_index = 1
    lists = published.views["early_warning"].lists
    assert lists["early_warning"]["entity_id"].tolist() == early.lists["early_warning"]["entity_id"].tolist()
    assert "Precomputed" in published.views["early_warning"].widget.children[0].value
    published.tabs.selected_index = 2
    shown_plan = published.views["callplan"]
    assert shown_plan.capacity_change.disabled  # replanning needs the data
    pd.testing.assert_frame_equal(shown_plan.tables["see more"], plan.tables["see more"], check_dtype=False)
    published.tabs.selected_index = 3
    shown_bridge = published.views["drivers"]
    assert shown_bridge.shown.set_index("driver")["change"].to_dict() == pytest.approx(national.to_dict())
