"""Beyond one machine: the Dask backend gives the in-process results, value for value.

A two-worker local cluster (threads of this process, so the test needs no spare cores)
runs the forecast's statsforecast models by groups of series, the churn scoring by
partition of entities, the call plan by groups of territories and attribution's event
studies one per task; every result is compared exactly with the in-process run, and the
task stream proves the work did go to the workers (a backend that silently stayed
in-process would fail). Whole markets (one data directory each) run one per task on worker
processes. The US world's partitioned parquet is read as one table.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from crmlab import cli  # noqa: E402
from crmlab.analyses import attribution, callplan, churn  # noqa: E402
from crmlab.distributed import ClusterError, active, backend, check_spec, map_rows  # noqa: E402
from crmlab.features.churn import churn_history  # noqa: E402
from crmlab.features.churn.parquet import doctor_history_from_parquet  # noqa: E402
from crmlab.features.forecast import forecast_panel  # noqa: E402
from crmlab.io import load, validate  # noqa: E402
from crmlab.models.callplan import allocate  # noqa: E402
from crmlab.models.churn import score_churn  # noqa: E402
from crmlab.runner import RunError  # noqa: E402
from crmlab.runner.markets import market_names, run_markets  # noqa: E402
from crmlab.simulate import simulate, write_world  # noqa: E402
from crmlab.models.forecast import ChannelForecaster  # noqa: E402
from crmlab.simulation.us import write_us_world  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _tasks(stream) -> list[str]:
    return [t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in stream.data]


def _assert_same_result(there, here) -> None:
    """Every published table equal to the last bit, and the summary (as JSON: NaN equals itself there)."""
    for name, table in here.tables.items():
        pd.testing.assert_frame_equal(there.tables[name], table, check_exact=True, obj=name)
    assert json.dumps(there.summary(), sort_keys=True, default=str) == \
        json.dumps(here.summary(), sort_keys=True, default=str)


def test_map_rows_splits_rows_and_keeps_their_order(client):
    data = np.arange(40.0).reshape(20, 2)
    with backend(client, min_rows=2), distributed.get_task_stream(client) as stream:
        assert active() is not None and active().n_parts == 4
        out = map_rows(lambda part, k: part[:, 0] * k, data, 3.0, combine=np.concatenate)
    assert out.tolist() == (data[:, 0] * 3).tolist()
    assert sum(key.startswith("_call") for key in _tasks(stream)) == 4
    assert active() is None  # the backend ends with its block


def test_a_bad_cluster_spec_is_named_not_a_traceback(tmp_path, capsys):
    with pytest.raises(ClusterError, match="'yarn' is not one"):
        check_spec("yarn")
    assert cli.main(["run", "overview", "--data", "data/sample", "--out", str(tmp_path),
                     "--cluster", "yarn"]) == 1
    assert "cluster 'yarn' is not one" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_named():
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        with backend("tcp://127.0.0.1:1", timeout=2):
            pass


def test_forecast_on_the_cluster_equals_in_process(sample_world, client):
    t = sample_world.tables
    panel = forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"],
                           products=t["products"])
    kw = dict(horizon_months=3, models=("naive", "auto_ets", "croston"), n_origins=1)
    here = ChannelForecaster(**kw).fit(panel)
    with backend(client, min_rows=4), distributed.get_task_stream(client) as stream:
        there = ChannelForecaster(**kw).fit(panel)
    calls = sum(key.startswith("_call") for key in _tasks(stream))
    # auto_ets on every series at the origin and at the end, 4 groups each (croston: few series)
    assert calls >= 2 * 4, "the statsforecast fits did not fan out"
    pd.testing.assert_frame_equal(there.forecast_, here.forecast_, check_exact=True)
    pd.testing.assert_frame_equal(there.backtest_, here.backtest_, check_exact=True)
    pd.testing.assert_frame_equal(there.choice_, here.choice_, check_exact=True)


@pytest.mark.parametrize("model", ["boosting", "logistic"])
def test_churn_scoring_on_the_cluster_equals_in_process(sample_world, client, model):
    history = churn_history(sample_world.tables, level="doctor")
    t = len(history.months) - 1
    kw = dict(model=model, horizon_months=3, active_months=6, min_active_months=3, train_origins=6,
              seed=7)
    here = score_churn(history, t, **kw)
    with backend(client, min_rows=10), distributed.get_task_stream(client) as stream:
        there = score_churn(history, t, **kw)
    # 2 workers x 2 groups each: the entities were scored in 4 partitions
    assert sum(key.startswith("_call") for key in _tasks(stream)) == 4, "the scoring did not fan out"
    assert here.model_name == model and len(here.scores) > 100
    if model == "boosting":  # trees compare values: the same numbers, bit for bit
        pd.testing.assert_frame_equal(there.scores, here.scores, check_exact=True)
        pd.testing.assert_frame_equal(there.contributions, here.contributions, check_exact=True)
    else:
        # the logistic's X @ coef goes through BLAS, whose blocking depends on the number of
        # rows in a call: the last bit of a product may differ (as between machines), no more
        pd.testing.assert_frame_equal(there.scores, here.scores, check_exact=False, rtol=1e-13, atol=0)
        pd.testing.assert_frame_equal(there.contributions, here.contributions, check_exact=False,
                                      rtol=1e-11, atol=1e-13)
        assert (there.scores["risk"].rank() == here.scores["risk"].rank()).all()


def test_churn_analysis_takes_the_cluster(client):
    """The analysis' run(cluster=...) reaches the scoring: the published tables are the same."""
    here = churn.run("data/sample", train_origins=6)
    with backend(client, min_rows=10), distributed.get_task_stream(client) as stream:
        there = churn.run("data/sample", train_origins=6)
    if here.scored.model_name in ("boosting", "logistic", "cox"):
        assert any(key.startswith("_call") for key in _tasks(stream))
    _assert_same_result(there, here)


def test_call_plan_allocates_whole_territories_on_the_cluster(client):
    """Territories are planned on the workers, each whole: a territory cut in two would spend its capacity twice."""
    rng = np.random.default_rng(4)
    n, n_territories = 3000, 23
    territory = rng.integers(0, n_territories, n)
    capacity = np.bincount(territory, minlength=n_territories) * rng.uniform(0.5, 2.0, n_territories)
    args = (np.where(rng.random(n) < 0.2, 0.0, rng.gamma(2.0, 1.0, n)), rng.uniform(0.3, 0.9, n), 0.8, territory,
            np.outer([0.5, 1.0, 1.5], capacity))
    kw = dict(min_visits=np.where(rng.random(n) < 0.05, 1.0, 0.0), max_visits=rng.uniform(2, 6, n), step=0.1)
    here = allocate(*args, **kw)
    with backend(client, min_rows=2), distributed.get_task_stream(client) as stream:
        there = allocate(*args, **kw)
    assert sum(key.startswith("_call") for key in _tasks(stream)) == 4
    assert np.array_equal(there, here)


def test_call_plan_analysis_takes_the_cluster(client):
    here = callplan.run("data/sample")
    with backend(client, min_rows=10), distributed.get_task_stream(client) as stream:
        there = callplan.run("data/sample")
    assert any(key.startswith("_call") for key in _tasks(stream))
    _assert_same_result(there, here)


def test_event_studies_are_fitted_by_the_workers(client):
    """Attribution's event studies (one per event type and its product) are fitted on the cluster, all at once."""
    here = attribution.run("data/sample")
    with backend(client), distributed.get_task_stream(client) as stream:
        there = attribution.run("data/sample")
    fitted = sum(key.startswith("_fitted") for key in _tasks(stream))
    assert fitted == len(here.event_studies) >= 2
    for name, table in here.tables.items():
        pd.testing.assert_frame_equal(there.tables[name], table, check_exact=True, obj=name)


def test_markets_run_side_by_side_on_the_cluster(tmp_path):
    """Each market (a country's data directory) is one task: its reports are those of a run on its own."""
    markets = [tmp_path / "fr", tmp_path / "de"]
    for seed, folder in enumerate(markets, start=1):
        write_world(simulate("sample", seed=seed), folder)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as c, \
            distributed.get_task_stream(c) as stream:
        done = run_markets(["overview"], markets, out_dir=tmp_path / "cluster", cluster=c, progress=False)
    assert sum(key.startswith("_run_market") for key in _tasks(stream)) == 2
    assert sorted(done) == ["de", "fr"]
    assert cli.main(["run", "overview", "--data", *map(str, markets), "--out", str(tmp_path / "in_process")]) == 0
    summaries = {}
    for where in ("cluster", "in_process"):
        for market in ("fr", "de"):
            assert (tmp_path / where / market / "overview" / "report.html").is_file()
            assert (tmp_path / where / market / "index.html").is_file()
            summaries[where, market] = json.loads((tmp_path / where / market / "overview" / "summary.json").read_text())
    assert summaries["cluster", "fr"] == summaries["in_process", "fr"] != summaries["cluster", "de"]
    assert summaries["cluster", "de"] == summaries["in_process", "de"]
    with pytest.raises(RunError, match="several data directories are named 'fr'"):
        market_names([tmp_path / "fr", tmp_path / "x" / "fr"])


def test_us_world_is_partitioned_parquet_read_as_one_table(tmp_path):
    out = write_us_world(tmp_path / "us", seed=3, n_doctors=1500, per_division=600)
    parts = sorted(p.name for p in (out / "doctors.parquet").iterdir())
    assert parts == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    assert (out / "products.parquet").is_file()
    report = validate(out)
    assert report.ok, report.to_text()
    ds = load(out)
    doctors = ds["doctors"]
    assert len(doctors) == 1500 and doctors["doctor_id"].is_unique
    assert doctors["doctor_id"].str[:4].value_counts().sort_index().to_dict() == \
        {"U01-": 600, "U02-": 600, "U03-": 300}
    # every doctor's account, and every visit's doctor, is in its own division
    accounts = ds["accounts"].set_index("account_id")
    assert (doctors["account_id"].str[:3] == doctors["doctor_id"].str[:3]).all()
    assert doctors["account_id"].isin(accounts.index).all()
    truth = json.loads((out / "truth.json").read_text())
    assert [d["doctors"] for d in truth["divisions"]] == [600, 600, 300]
    assert len({d["seed"] for d in truth["divisions"]}) == 3
    # the same seed gives the same world
    again = write_us_world(tmp_path / "again", seed=3, n_doctors=1500, per_division=600)
    pd.testing.assert_frame_equal(load(again)["prescriptions"], ds["prescriptions"])

    # DuckDB's out-of-core panels give the history churn_history builds in memory
    as_of = pd.Timestamp("2025-06-30")
    wanted = churn_history(ds, level="doctor", as_of=as_of)
    got = doctor_history_from_parquet(out, as_of=as_of)
    assert got.entity_ids.equals(wanted.entity_ids) and got.months.equals(wanted.months)
    for grid in ("volume", "visits", "remote_visits", "events"):
        np.testing.assert_array_equal(getattr(got, grid), getattr(wanted, grid), err_msg=grid)
    assert wanted.visits.sum() > 1000 and wanted.remote_visits.sum() > 100 and wanted.events.sum() > 10
    np.testing.assert_array_equal(got.group, wanted.group)
    np.testing.assert_array_equal(got.territory, wanted.territory)
    pd.testing.assert_frame_equal(got.static, wanted.static)
    pd.testing.assert_frame_equal(got.occasions, wanted.occasions)
    default = doctor_history_from_parquet(out)
    assert default.months[-1] == ds["prescriptions"]["month"].max()
