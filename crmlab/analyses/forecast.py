"""Channel demand forecast: sell-out and sell-in per distributor, region and nation, with channel health."""

from __future__ import annotations

import dataclasses

import pandas as pd

from crmlab.analyses.base import AnalysisResult, Params, check_params, load_data, param, rejects_summary
from crmlab.features.forecast import channel_hierarchy_panel, forecast_panel, missing_flows
from crmlab.distributed import on_backend
from crmlab.io import Dataset
from crmlab.models.channel_health import channel_health, estimate_channel_policy
from crmlab.models.forecast import DEFAULT_MODELS, ChannelForecaster


FORECAST_COLUMNS = ["level", "distributor_id", "region", "product_id", "month", "measure", "model",
                    "forecast", "lower", "upper"]


def forecast_table(forecast: pd.DataFrame) -> pd.DataFrame:
    """``forecast.csv``: one row per series, month and measure, 80 % interval, rounded.

    Examples
    --------
    >>> forecast_table(fc.forecast_).columns.tolist()[:4]  # doctest: +SKIP
    ['level', 'distributor_id', 'region', 'product_id']
    """
    table = forecast[FORECAST_COLUMNS].copy()
    table["month"] = table["month"].dt.strftime("%Y-%m-%d")
    table[["forecast", "lower", "upper"]] = table[["forecast", "lower", "upper"]].round(1)
    return table


def backtest_table(backtest: pd.DataFrame) -> pd.DataFrame:
    """``backtest.csv``: MASE, sMAPE (%) and interval coverage per model, level and measure.

    Examples
    --------
    >>> backtest_table(fc.backtest_).columns.tolist()  # doctest: +SKIP
    ['measure', 'level', 'model', 'mase', 'smape', 'coverage', 'n_series']
    """
    order = {"national": 0, "region": 1, "distributor": 2}
    table = backtest.assign(_lv=backtest["level"].map(order)) \
        .sort_values(["measure", "_lv", "mase"], ascending=[False, True, True]).drop(columns="_lv")
    return table[["measure", "level", "model", "mase", "smape", "coverage", "n_series"]] \
        .round({"mase": 3, "smape": 2, "coverage": 3}).reset_index(drop=True)


def health_table(health: pd.DataFrame) -> pd.DataFrame:
    """``channel_health.csv``: days on hand and flags per distributor and product, rounded.

    Examples
    --------
    >>> health_table(channel_health(panel))  # doctest: +SKIP
    """
    return health.round({"days_on_hand": 1, "days_on_hand_recent": 1, "sell_in_recent": 1,
                         "sell_out_recent": 1, "sell_in_to_sell_out": 3, "returns_recent": 1,
                         "days_covered_next_month": 1}).reset_index(drop=True)


@dataclasses.dataclass(frozen=True)
class ForecastParams(Params):
    """Parameters of the channel forecast."""

    horizon_months: int = param(6, "months forecast after the last month of data")
    n_origins: int = param(12, "backtest origins: the latest n_origins of all that leave the full "
                               "horizon to score (0: all), spaced origin_step months apart")
    origin_step: int = param(2, "months between backtest origins")
    min_train_months: int = param(24, "shortest history a backtest origin may have")
    alpha: float = param(0.2, "intervals cover 1 - alpha (0.2: 80% intervals)")
    models: list = param(list(DEFAULT_MODELS), "candidate base models (auto_arima may be added: slower, "
                                               "never chosen in validation); croston and tsb run only on "
                                               "intermittent series")
    selection: str = param("group", "model choice per group (level x measure x intermittent) or "
                                    "per series", choices=("group", "series"))
    selection_tolerance: float = param(0.05, "backtest MASEs within this relative distance of the "
                                             "best are ties, won by the simplest model")
    reconciliation: str = param("auto", "auto (lower backtest MASE, ties to bottom_up), mint or "
                                        "bottom_up", choices=("auto", "mint", "bottom_up"))
    choice_sample: int = param(100, "a group of more series chooses its model on a seeded sample of this "
                                    "many (the chosen model is then backtested on all; 0: all series)")
    intermittent_zero_share: float = param(0.3, "a series with at least this share of zero months "
                                                "is intermittent")
    doh_low: float = param(20.0, "channel health: lower end of the days-on-hand target band")
    doh_high: float = param(75.0, "channel health: upper end of the days-on-hand target band")
    recent_months: int = param(3, "channel health: months that count as recent")
    stocking_up_ratio: float = param(1.2, "channel health: sell-in / sell-out above this is stocking up")
    stockout_days: float = param(15.0, "channel health: stock covering fewer days of next month's "
                                       "forecast is a stock-out risk")
    returns_share: float = param(0.05, "channel health: returns above this share of sell-out are unusual")
    top_series: int = param(4, "fan charts: distributor series shown besides the national totals "
                                "(largest sell-out)")


@dataclasses.dataclass
class ForecastResult(AnalysisResult):
    """What the channel forecast found.

    Attributes
    ----------
    panel : DataFrame
        Distributor × product × month: sell-in, sell-out, inventory, days on hand, returns.
    totals : DataFrame
        The panel with regional and national totals.
    forecaster : ChannelForecaster
        The fitted forecaster: backtest, choice, ties, reconciliation, forecasts.
    health : DataFrame or None
        Channel health per distributor and product (None without sell-in, sell-out and stock).
    policy : DataFrame or None
        Each distributor's ordering policy (lot size, order-up-to days on hand).
    skipped : dict
        Part of the analysis → why it did not run (a flow the data lacks).
    """

    panel: pd.DataFrame
    totals: pd.DataFrame
    forecaster: ChannelForecaster
    health: pd.DataFrame | None
    policy: pd.DataFrame | None
    skipped: dict

    def summary(self) -> dict:
        return super().summary() | self.forecaster.summary() | {"skipped": self.skipped}

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        tables = {"forecast": forecast_table(self.forecaster.forecast_),
                  "backtest": backtest_table(self.forecaster.backtest_)}
        if self.health is not None:
            tables["channel_health"] = health_table(self.health)
        return tables


def skipped_parts(missing: dict[str, str]) -> dict[str, str]:
    """The parts of the analysis a missing flow rules out, each with the reason.

    Examples
    --------
    >>> skipped_parts({"inventory": "no inventory table (distributor stock)"})["channel health"]
    'needs sell-in, sell-out and inventory: no inventory table (distributor stock)'
    """
    needs = {"sell-out forecast": ("sell_out",), "sell-in forecast": ("sell_in",),
             "inventory identity": ("sell_in", "sell_out", "inventory"),
             "days on hand": ("sell_out", "inventory"),
             "channel health": ("sell_in", "sell_out", "inventory")}
    skipped = {}
    for part, flows in needs.items():
        reasons = "; ".join(missing[f] for f in flows if f in missing)
        if not reasons:
            continue
        names = [f.replace("_", "-") for f in flows]
        needed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        skipped[part] = reasons if len(flows) == 1 else f"needs {needed}: {reasons}"
    return skipped


@on_backend
def run(data: str | Dataset = "data/sample", **params) -> ForecastResult:
    """Forecast sell-out and sell-in for every distributor, region and the nation.

    Parameters
    ----------
    data : str, Path or Dataset
        A data directory in the data contract, or a loaded dataset.
    cluster : str or distributed.Client, optional
        Where the heavy loops run (:mod:`crmlab.distributed`): 'local', 'local:N', a scheduler
        address, or a client; default ``$CRMLAB_CLUSTER``, else in-process. Same results.
    **params
        :class:`ForecastParams`.

    Examples
    --------
    >>> result = run("data/sample", models=["seasonal_naive", "naive"])
    >>> sorted(result.summary()["reconciliation"])
    ['sell_in', 'sell_out']
    """
    params = check_params(ForecastParams, params)
    ds = load_data(data, params)
    skipped = skipped_parts(missing_flows(ds.shipments, ds.sales, ds.inventory))
    panel = forecast_panel(ds.shipments, ds.sales, ds.inventory, distributors=ds.distributors,
                           products=ds.products)
    forecaster = ChannelForecaster(
        horizon_months=params.horizon_months, models=tuple(params.models), n_origins=params.n_origins,
        origin_step=params.origin_step, min_train_months=params.min_train_months, alpha=params.alpha,
        selection=params.selection, tolerance=params.selection_tolerance,
        reconciliation=params.reconciliation, intermittent_zero_share=params.intermittent_zero_share,
        choice_sample=params.choice_sample, random_state=params.seed).fit(panel)
    health = policy = None
    if "channel health" not in skipped:
        health = channel_health(panel, forecaster.forecast_, doh_low=params.doh_low, doh_high=params.doh_high,
                                recent_months=params.recent_months, stocking_up_ratio=params.stocking_up_ratio,
                                stockout_days=params.stockout_days, returns_share=params.returns_share)
        policy = estimate_channel_policy(ds.shipments, panel)
    return ForecastResult(params=params, rejects=rejects_summary(ds), panel=panel,
                          totals=channel_hierarchy_panel(panel), forecaster=forecaster, health=health,
                          policy=policy, skipped=skipped)
