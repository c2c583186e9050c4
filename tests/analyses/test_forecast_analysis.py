"""The forecast analysis runs on whichever flows a company has, and says what it skipped."""

import shutil

import pandas as pd
import pytest

from crmlab.analyses import forecast
from crmlab.config import SAMPLE_DIR

FAST = {"models": ["seasonal_naive", "naive", "damped_ets"]}


def _market(tmp_path, drop=(), sales_without_distributor=False):
    out = tmp_path / "market"
    shutil.copytree(SAMPLE_DIR, out)
    for name in drop:
        (out / f"{name}.csv").unlink()
    if sales_without_distributor:
        sales = pd.read_csv(out / "sales.csv", dtype=str)
        sales.drop(columns="distributor_id").to_csv(out / "sales.csv", index=False)
    return out


@pytest.mark.parametrize("drop, without_distributor, measures, skipped", [
    (("shipments", "inventory"), False, ["sell_out"],
     {"sell-in forecast", "inventory identity", "days on hand", "channel health"}),
    (("inventory",), True, ["sell_in"],
     {"sell-out forecast", "inventory identity", "days on hand", "channel health"}),
    (("inventory",), False, ["sell_out", "sell_in"], {"inventory identity", "days on hand", "channel health"}),
])
def test_runs_on_the_flows_present(tmp_path, drop, without_distributor, measures, skipped):
    result = forecast.run(_market(tmp_path, drop, without_distributor), **FAST)
    summary = result.summary()
    assert summary["measures"] == measures
    assert set(summary["skipped"]) == skipped
    assert all(reason for reason in summary["skipped"].values())
    assert set(result.tables["forecast"]["measure"]) == set(measures)
    assert "channel_health" not in result.tables and result.health is None
    assert "identity" not in set(result.forecaster.backtest_["model"])


def test_nothing_skipped_with_every_flow():
    result = forecast.run(SAMPLE_DIR, **FAST)
    assert result.skipped == {}
    assert set(result.tables) == {"forecast", "backtest", "channel_health"}
    assert "identity" in set(result.forecaster.backtest_["model"])


def test_no_flow_at_all_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="needs sell-out or sell-in"):
        forecast.run(_market(tmp_path, ("shipments", "inventory"), True), **FAST)


@pytest.mark.slow
def test_report_runs_on_sell_out_only_and_says_what_it_skipped(tmp_path):
    import json

    from crmlab.cli import main

    market = _market(tmp_path, ("shipments", "inventory"))
    out = tmp_path / "out"
    assert main(["run", "forecast", "--data", str(market), "--out", str(out),
                 "-p", "models=[seasonal_naive, naive, damped_ets]"]) == 0
    summary = json.loads((out / "forecast" / "summary.json").read_text())
    assert summary["measures"] == ["sell_out"]
    assert "channel health" in summary["skipped"]
    report = (out / "forecast" / "report.html").read_text()
    assert "Skipped:" in report and "no shipments table" in report
