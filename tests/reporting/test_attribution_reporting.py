"""The attribution report: key findings, formatted intervals, the recorded-figure checks."""

import pytest

from crmlab.analyses import attribution
from crmlab.config import SAMPLE_DIR
from crmlab.reporting import attribution as report


@pytest.fixture(scope="module")
def sample_result():
    return attribution.run(SAMPLE_DIR)


def test_recorded_checks_pass_on_the_sample_and_can_fail(sample_result):
    checks = report.recorded_checks(sample_result, "data/sample")
    assert list(checks.index) == list(report.RECORDED_ON_SAMPLE) and checks["within"].all()
    long_run = sample_result.visit_model.results_.effect("per_visit_long_run")
    off = dict(report.RECORDED_ON_SAMPLE)
    off["visit long-run effect per visit"] = (long_run["estimate"] + 1.01 * long_run["std_error"], "se")
    assert not report.recorded_checks(sample_result, SAMPLE_DIR, off).loc["visit long-run effect per visit",
                                                                           "within"]
    assert report.checks_note(checks).startswith(f"{len(checks)} of {len(checks)} key figures")


def test_no_recorded_values_for_other_parameters_or_data(sample_result, tmp_path):
    other = attribution.AttributionParams(alpha=0.1)
    assert not report.is_committed_sample("data/sample", other)
    assert not report.is_committed_sample(tmp_path, sample_result.params)
    assert report.is_committed_sample(SAMPLE_DIR, sample_result.params)


def test_key_findings_state_the_numbers_of_the_result(sample_result):
    findings = report.key_findings(sample_result)
    long_run = sample_result.visit_effect("per_visit_long_run")
    # the design used, and why, opens the findings; the main design's effect follows
    assert findings[0] == sample_result.visit_design_reason
    assert report.format_estimate(long_run) in findings[1]
    assert any(f.startswith("A seminar adds") for f in findings)
    assert any("campaign lifted" in f for f in findings)


def test_effects_table_shows_intervals_at_the_precision_of_their_errors(sample_result):
    table = report.effects_table(sample_result.visit_model.results_.effects)
    assert table.index.name == "effect" and list(table.columns) == ["estimate (95% CI)", "meaning"]
    # a standard error of 0.1-0.99 supports two decimals, 0.01-0.099 three
    for name, text in table["estimate (95% CI)"].items():
        se = sample_result.visit_model.results_.effect(name)["std_error"]
        places = len(text.split(" ")[0].split(".")[1])
        assert places == (2 if 0.1 <= se < 1 else 3 if 0.01 <= se < 0.1 else places), (name, text, se)
