"""How often the forecast's model choice on a sample of a group's series equals the choice on all of them.

Usage: ``python benchmarks/forecast_choice_sample.py [--national DIR] [--samples 25 50 100]``

For each channel world of other structures (150 distributors × 2 products, 36 months;
optionally also a national dataset), the full backtest is run once (``choice_sample=0``).
Then, per group of more series than the sample size, 200 seeded random samples choose a
model with the forecaster's own rule (:func:`crmlab.models.forecast.scoring.choose_model`);
printed: the share of samples that chose the full backtest's model, and the relative MASE
cost over the group of the model chosen instead (mean and worst).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORLDS = {
    "winter_peak_growth": dict(seasonality="winter_peak", trend="growth"),
    "summer_dip_decline_noisy": dict(seasonality="summer_dip", trend="decline", noise=0.2),
    "random_season_reversal_launches": dict(seasonality="random", trend="reversal", launches=20, withdrawals=10),
    "regional_sine_damped_growth": dict(seasonality="sine", regional_seasonality=True, trend="damped_growth",
                                        amplitude=0.35),
}


def panels(national: str | None):
    from crmlab.channel_worlds import channel_world
    from crmlab.features.forecast import forecast_panel

    for name, structure in WORLDS.items():
        t = channel_world(2027, n_distributors=150, n_products=2, n_months=36, **structure).tables
        yield name, forecast_panel(t.get("shipments"), t["sales"], t.get("inventory"), distributors=t["distributors"],
                                   products=t["products"])
    if national:
        from crmlab.analyses.base import load_data
        from crmlab.analyses.forecast import ForecastParams

        ds = load_data(national, ForecastParams())
        yield "national", forecast_panel(ds.shipments, ds.sales, ds.inventory, distributors=ds.distributors,
                                         products=ds.products)


def agreement(forecaster, sizes, draws: int = 200) -> pd.DataFrame:
    """Per measure, group and sample size: share of samples choosing the full choice, and the cost."""
    from crmlab.models.forecast.scoring import choose_model

    scores = forecaster.scores_[~forecaster.scores_["model"].str.startswith("reconciled_")]
    rows = []
    for measure in forecaster.measures_:
        per_series = (scores[scores["measure"] == measure].groupby(["series", "model"])["abs_scaled_error"]
                      .mean().unstack())
        groups = pd.Series(forecaster.groups_[measure])
        for group, members in groups.groupby(groups).groups.items():
            members = np.asarray(members)
            mase = per_series.reindex(members).mean()
            full, _ = choose_model(mase, forecaster.tolerance)
            for size in sizes:
                if len(members) <= size:
                    continue
                rng = np.random.default_rng(0)
                picks = [choose_model(per_series.reindex(rng.choice(members, size, replace=False)).mean(),
                                      forecaster.tolerance)[0] for _ in range(draws)]
                cost = np.array([mase[p] / mase[full] - 1 for p in picks])
                rows.append(dict(measure=measure, group=group, n_series=len(members), sample=size, full_choice=full,
                                 same_choice=np.mean([p == full for p in picks]), mean_cost=cost.mean(),
                                 worst_cost=cost.max()))
    return pd.DataFrame(rows)


def main() -> int:
    from crmlab.models.forecast import ChannelForecaster

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--national", default=None, help="also a national data directory")
    parser.add_argument("--samples", nargs="+", type=int, default=[25, 50, 100])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name, panel in panels(args.national):
        start = time.perf_counter()
        forecaster = ChannelForecaster(choice_sample=0).fit(panel)
        print(f"{name}: full backtest {time.perf_counter() - start:.0f} s", flush=True)
        print(agreement(forecaster, args.samples).round(3).to_string(index=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
