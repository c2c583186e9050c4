"""`crmlab run` end to end on the committed sample and on a sales-only market."""

import json
import shutil

import pandas as pd
import pytest

from crmlab.cli import main
from crmlab.config import ANALYSES, SAMPLE_DIR


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


def test_run_all_on_sample(tmp_path):
    """Every analysis runs through the runner with its params/<analysis>.yaml defaults."""
    assert main(["run", "all", "--data", str(SAMPLE_DIR), "--out", str(tmp_path)]) == 0
    index = (tmp_path / "index.html").read_text()
    for analysis in ANALYSES:
        assert (tmp_path / analysis / "summary.json").exists()
        assert index.count(f"{analysis}/report.html") == 1
    names = pd.read_csv(SAMPLE_DIR / "doctors.csv")["name"]
    for report in tmp_path.glob("*/report.html"):
        html = report.read_text()
        assert not any(name in html for name in names), f"a doctor name in {report}"
    for table in tmp_path.glob("*/*.csv"):
        assert "name" not in pd.read_csv(table, nrows=0).columns, table


def test_run_overview_on_sample(tmp_path, capsys):
    assert main(["run", "overview", "--data", str(SAMPLE_DIR), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "overview" / "summary.json").read_text())
    assert summary["tables"]["visits"] == len(pd.read_csv(SAMPLE_DIR / "visits.csv"))
    assert summary["rejected_rows"] == 0
    assert (tmp_path / "overview" / "run.json").exists()


@pytest.mark.parametrize("analysis, options", [
    ("overview", []), ("segmentation", []), ("attribution", []), ("churn", ["-p", "level=account"]),
    ("forecast", []),
])
def test_sales_only_market(sales_only, tmp_path, analysis, options):
    """Markets without doctor-level data: every analysis runs from account sales."""
    assert main(["run", analysis, "--data", str(sales_only), "--out", str(tmp_path), *options]) == 0
    assert (tmp_path / analysis / "summary.json").exists()


def test_run_with_bad_data_fails_cleanly(sales_only, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(sales_only, broken)
    (broken / "accounts.csv").unlink()
    assert main(["run", "overview", "--data", str(broken), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "accounts" in err and "Traceback" not in err
