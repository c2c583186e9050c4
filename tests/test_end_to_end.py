"""`crmlab run` end to end on the committed sample and on a sales-only market."""

import json
import shutil

import pandas as pd
import pytest

from crmlab.cli import main
from crmlab.config import SAMPLE_DIR


@pytest.fixture(scope="module")
def sales_only(tmp_path_factory):
    """The sample world as a market without a field force or prescription data."""
    out = tmp_path_factory.mktemp("sales_only")
    for name in ("accounts", "products", "distributors", "sales", "shipments", "inventory", "events"):
        shutil.copy(SAMPLE_DIR / f"{name}.csv", out)
    events = pd.read_csv(out / "events.csv", dtype=str)
    events[events["event_type"] == "advertising"].to_csv(out / "events.csv", index=False)
    for name in ("doctors", "reps", "visits"):
        header = pd.read_csv(SAMPLE_DIR / f"{name}.csv", nrows=0)
        header.to_csv(out / f"{name}.csv", index=False)
    return out


def test_run_overview_on_sample(tmp_path, capsys):
    assert main(["run", "overview", "--data", str(SAMPLE_DIR), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "overview" / "summary.json").read_text())
    assert summary["tables"]["visits"] == len(pd.read_csv(SAMPLE_DIR / "visits.csv"))
    assert summary["rejected_rows"] == 0
    assert (tmp_path / "index.html").read_text().count("overview/report.html") == 1
    html = (tmp_path / "overview" / "report.html").read_text()
    names = pd.read_csv(SAMPLE_DIR / "doctors.csv")["name"]
    assert not any(name in html for name in names)  # personal data never in a report


@pytest.mark.parametrize("analysis", ["overview"])
def test_sales_only_market(sales_only, tmp_path, analysis):
    assert main(["run", analysis, "--data", str(sales_only), "--out", str(tmp_path)]) == 0
    assert (tmp_path / analysis / "summary.json").exists()


def test_run_with_bad_data_fails_cleanly(sales_only, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(sales_only, broken)
    (broken / "accounts.csv").unlink()
    assert main(["run", "overview", "--data", str(broken), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "accounts" in err and "Traceback" not in err
