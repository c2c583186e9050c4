"""The shared report pieces: captioned tables, formatted numbers, published findings, index cards."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from crmlab.features.segmentation import Skipped
from crmlab.reporting.findings import publish_findings, show_findings
from crmlab.reporting.tables import fmt_interval, fmt_number, heatmap, table
from crmlab.runner.folders import write_index


def test_table_shows_no_bare_index_and_formats_numbers():
    frame = pd.DataFrame({"product_id": ["P01", "P02"], "units": [1234567.0, 89.5], "share": [0.25, 0.755]})
    shown = table(frame, "Units per product.", percent=["share"])
    html = shown._repr_html_()
    assert "<caption>Units per product.</caption>" in html
    assert ">1,234,567<" in html and ">76%<" in html and ">product<" in html
    assert 'class="row_heading' not in html  # no index column at all
    assert repr(shown).splitlines() == ["Units per product.", "product     units share",
                                        "    P01 1,234,567   25%", "    P02        90   76%"]
    assert shown._repr_html_() == html  # the same HTML on every run (nbval compares it)


def test_a_named_index_becomes_the_first_column():
    series = pd.Series([0.2, 0.8], index=pd.Index(["tier", "volume"], name="indicator"), name="weight")
    shown = table(series, "Weights.", percent=["weight"])
    assert list(shown.text.columns) == ["indicator", "weight"]
    assert shown.text["weight"].tolist() == ["20%", "80%"]
    months = pd.DataFrame({"visits": [3, 4]}, index=pd.DatetimeIndex(["2025-01-01", "2025-02-01"], name="month"))
    assert table(months, "Visits.").text["month"].tolist() == ["2025-01", "2025-02"]


def test_notes_and_empty_tables_show_as_text():
    note = Skipped("Call plan", "visits")
    assert table(note, "Never shown.") is note
    empty = table(pd.DataFrame(columns=["rep_id", "compliance"]), "Reps below the threshold.")
    assert "None." in empty._repr_html_() and "Reps below the threshold." in empty._repr_html_()


@pytest.mark.parametrize("args, text", [((1.234, 1.1, 1.31), "1.2 (1.1–1.3)"),
                                        ((12345.6, 11000, 13999.4, 0), "12,346 (11,000–13,999)"),
                                        ((-0.3, -0.71, 0.05, 2), "-0.30 (-0.71–0.05)")])
def test_intervals_read_estimate_then_bounds(args, text):
    assert fmt_interval(*args) == text


def test_numbers_never_show_minus_zero():
    assert fmt_number(-0.004, 2) == "0.00" and fmt_number(-0.006, 2) == "-0.01"


def test_heatmap_annotates_small_matrices():
    matrix = pd.DataFrame([[5, 1], [0, 7]], index=pd.Index(["A", "B"], name="before"),
                          columns=pd.Index(["A", "B"], name="after"))
    ax = heatmap(matrix, "Shift")
    assert [t.get_text() for t in ax.texts] == ["5", "1", "0", "7"]
    assert ax.get_xlabel() == "after" and ax.get_ylabel() == "before"


def test_published_findings_reach_the_index_card(tmp_path):
    folder = tmp_path / "churn"
    folder.mkdir()
    (folder / "report.html").write_text("<html></html>")
    (folder / "summary.json").write_text(json.dumps({"counts": {"alerts": 4}}))
    (folder / "run.json").write_text(json.dumps({"title": "Churn early warning", "duration_s": 21.04,
                                                 "finished": "2026-12-01T10:00:00+00:00", "data_dir": "/d"}))
    findings = ["**4 doctors** are at risk <now>.", "Call the 2 not visited."]
    assert repr(show_findings(findings)) == "- **4 doctors** are at risk <now>.\n- Call the 2 not visited."
    publish_findings(folder, findings, "2025-07 to 2025-12")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary == {"counts": {"alerts": 4}, "key_findings": findings, "data_period": "2025-07 to 2025-12"}

    (tmp_path / "overview").mkdir()
    (tmp_path / "overview" / "report.html").write_text("<html></html>")
    index = write_index(tmp_path).read_text()
    assert '<a href="churn/report.html">Churn early warning</a>' in index
    assert "<li><strong>4 doctors</strong> are at risk &lt;now&gt;.</li>" in index
    assert "ran 21.0 s" in index and "data 2025-07 to 2025-12" in index
    assert "finished 2026-12-01 10:00:00 UTC" in index
    assert index.index('href="overview/report.html"') < index.index('href="churn/report.html"')
    assert "No key findings recorded" in index  # the overview has no summary


def test_publish_writes_nothing_without_an_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    publish_findings("", ["x"])
    assert list(tmp_path.iterdir()) == []
