"""`crmlab run` end to end on the committed sample, on a sales-only market and on bad rows.

Each `crmlab run` executes a notebook in a kernel (15-60 s on the sample), so those
tests are marked slow: `make test` runs them, `make test-fast` does not. Tests over
"every analysis on the analysis API" cover the analyses whose `crmlab.analyses.<name>`
module exists.
"""

import importlib.util
import json
import shutil

import pandas as pd
import pytest

from crmlab.analyses import get, params_class
from crmlab.cli import main
from crmlab.config import ANALYSES, SAMPLE_DIR
from crmlab.io import DataContractError
from crmlab.reporting import rejects_note

ON_API = [name for name in ANALYSES if importlib.util.find_spec(f"crmlab.analyses.{name}")]
#: Rows made unreadable in the corrupted copy of the sample: table -> (column, rows, value).
CORRUPTIONS = {
    "sales": ("units", [3, 10], "lots"),
    "prescriptions": ("trx", [5], "many"),
    "visits": ("duration_min", [7], "long"),
}
BAD_ROWS = {table: len(rows) for table, (_, rows, _) in CORRUPTIONS.items()}


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


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    """The sample with the few unreadable numbers of :data:`CORRUPTIONS`."""
    out = tmp_path_factory.mktemp("corrupted") / "data"
    shutil.copytree(SAMPLE_DIR, out)
    for table, (column, rows, value) in CORRUPTIONS.items():
        path = out / f"{table}.csv"
        lines = path.read_text().splitlines()
        position = lines[0].split(",").index(column)
        for row in rows:
            fields = lines[row].split(",")
            fields[position] = value
            lines[row] = ",".join(fields)
        path.write_text("\n".join(lines) + "\n")
    return out


def _assert_rejects_listed(rejects: dict, analysis: str) -> None:
    """Every bad row of the tables the analysis read is counted, per table and check."""
    assert rejects["by_table"], f"{analysis} lists no rejected rows"
    assert {table: BAD_ROWS[table] for table in rejects["by_table"]} == rejects["by_table"]
    assert rejects["rows"] == sum(rejects["by_table"].values())
    assert rejects["by_check"] == {f"{table}: number_format": rows
                                   for table, rows in rejects["by_table"].items()}
    if analysis == "overview":  # it reads every table
        assert rejects["by_table"] == BAD_ROWS


def _api(analyses, fast=("overview",)):
    return [pytest.param(name, marks=() if name in fast else pytest.mark.slow)
            for name in analyses]


@pytest.mark.parametrize("analysis", _api(ON_API))
def test_run_lists_rejected_rows(corrupted, analysis):
    """`allow_rejects=True` goes on without the bad rows and says how many it dropped."""
    with pytest.raises(DataContractError, match="break the data contract"):
        get(analysis).run(corrupted)
    result = get(analysis).run(corrupted, allow_rejects=True)
    _assert_rejects_listed(result.summary()["rejects"], analysis)


@pytest.mark.slow
@pytest.mark.parametrize("analysis", ON_API)
def test_report_lists_rejected_rows(corrupted, tmp_path, analysis):
    """`crmlab run A -p allow_rejects=true`: summary.json and the report list the rejects."""
    assert main(["run", analysis, "--data", str(corrupted), "--out", str(tmp_path),
                 "-p", "allow_rejects=true"]) == 0
    summary = json.loads((tmp_path / analysis / "summary.json").read_text())
    _assert_rejects_listed(summary["rejects"], analysis)
    report = (tmp_path / analysis / "report.html").read_text()
    assert rejects_note(summary["rejects"]) in report


@pytest.mark.slow
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


@pytest.mark.slow
def test_run_overview_on_sample(tmp_path, capfd):
    assert main(["run", "overview", "--data", str(SAMPLE_DIR), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "overview" / "summary.json").read_text())
    assert summary["tables"]["visits"] == len(pd.read_csv(SAMPLE_DIR / "visits.csv"))
    assert summary["rejected_rows"] == 0
    assert summary["rejects"] == {"rows": 0, "by_table": {}, "by_check": {}}
    assert (tmp_path / "overview" / "run.json").exists()
    printed = capfd.readouterr()
    assert printed.out.startswith("[1/1] overview … done in ") and printed.out.count("\n") == 1
    assert printed.err == ""  # nothing from the kernel, no progress bar off a terminal


@pytest.mark.slow
@pytest.mark.parametrize("analysis", [name for name in ON_API
                                      if "as_of" in params_class(name).names()])
def test_a_date_parameter_is_accepted(tmp_path, analysis):
    """`-p as_of=2024-06-30`: YAML reads a date; the analysis gets it as a date string."""
    assert main(["run", analysis, "--data", str(SAMPLE_DIR), "--out", str(tmp_path),
                 "-p", "as_of=2024-06-30"]) == 0
    run = json.loads((tmp_path / analysis / "run.json").read_text())
    assert run["parameters"]["as_of"] == "2024-06-30"


@pytest.mark.slow
@pytest.mark.parametrize("analysis, options", [
    ("overview", []), ("segmentation", []), ("attribution", []), ("churn", ["-p", "level=account"]),
    ("forecast", []), ("drivers", []),
])
def test_sales_only_market(sales_only, tmp_path, analysis, options):
    """Markets without doctor-level data: every analysis runs from account sales."""
    assert main(["run", analysis, "--data", str(sales_only), "--out", str(tmp_path), *options]) == 0
    assert (tmp_path / analysis / "summary.json").exists()


@pytest.mark.slow
def test_run_with_bad_data_fails_cleanly(sales_only, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(sales_only, broken)
    (broken / "accounts.csv").unlink()
    assert main(["run", "overview", "--data", str(broken), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "accounts" in err and "Traceback" not in err
