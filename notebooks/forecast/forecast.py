# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Channel demand forecast: sell-out, sell-in and distributor inventory
#
# What each distributor will sell (sell-out) and order (sell-in) over the next
# `horizon_months` months, per product, with regional and national totals that add up, and
# how healthy the channel's stock is. The forecast uses whichever flows the data has; the
# parts that need a missing flow are skipped and named below. The method is at the end.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import forecast
from crmlab.reporting import forecast as report
from crmlab.reporting import rejects_note, setup_display
from crmlab.reporting.findings import publish_findings, show_findings
from crmlab.reporting.tables import table
from crmlab.reporting.forecast import (accuracy_plot, accuracy_table, choice_table, data_note,
                                       days_on_hand_heatmap, fan_chart, health_overview, identity_comparison,
                                       interval_table, key_findings, national_totals, skipped_note)

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
merge_duplicates = ""
horizon_months = 6
n_origins = 12
origin_step = 2
min_train_months = 24
alpha = 0.2
models = ["seasonal_naive", "naive", "moving_average", "auto_ets", "damped_ets", "pooled_seasonal", "combination",
          "croston", "tsb"]
selection = "group"
selection_tolerance = 0.05
reconciliation = "auto"
choice_sample = 100
intermittent_zero_share = 0.3
doh_low = 20.0
doh_high = 75.0
recent_months = 3
stocking_up_ratio = 1.2
stockout_days = 15.0
returns_share = 0.05
top_series = 4

# %%
result = forecast.run(data_dir, **forecast.ForecastParams.pick(globals()))

# %% [markdown]
# ## Key findings
# Backtest figures vary in the third decimal with the machine's floating-point kernel; the
# cell after them checks the claims within a stated tolerance.

# %% tags=["nbval-ignore-output"]
findings = key_findings(result)
show_findings(findings)

# %% tags=["nbval-ignore-output"]
accuracy = accuracy_table(result.summary())
table(accuracy, "Backtest MASE by measure and level: chosen, reconciled, seasonal naive, and the ratio to "
      "seasonal naive (below 1 is better).", decimals=dict.fromkeys(accuracy.columns[2:], 2),
      rename={"mase_chosen": "MASE chosen", "mase_reconciled": "MASE reconciled",
              "mase_seasonal_naive": "MASE seasonal naive", "vs_seasonal_naive": "ratio to seasonal naive"})

# %%
# the chosen, reconciled forecast beats seasonal naive at every level of the sell-out hierarchy
# by more than the 0.01 the figures move between machines
sell_out = accuracy[accuracy["measure"] == "sell_out"].set_index("level")
assert (sell_out["mase_reconciled"] < sell_out["mase_seasonal_naive"] - 0.01).all(), sell_out
print(data_note(result), rejects_note(result.rejects), skipped_note(result.skipped), sep="\n")

# %% [markdown]
# ## The channel panel, national totals
# Sell-in is lumpier than sell-out (whole lots, quarter-end loading); days on hand is month-end
# inventory over the trailing 3-month average daily sell-out.

# %%
table(national_totals(result.totals), "National totals per product, the last 8 months (units; days on hand in days).",
      rename={"product_id": "product"})

# %% [markdown]
# ## Backtest: accuracy by model, level and measure
# MASE below 1 beats the in-sample seasonal naive. `reconciled_*` rows score the chosen models
# after reconciliation; their coverage is that of the conformal intervals, each origin calibrated
# on the others. Base models' coverage is that of their own intervals.

# %%
accuracy_plot(result.forecaster.backtest_)
plt.show()

# %% tags=["nbval-ignore-output"]
table(result.tables["backtest"], "Backtest accuracy of every model by measure and level.", percent=["coverage"],
      rename={"mase": "MASE", "smape": "sMAPE", "n_series": "series"})

# %% [markdown]
# ## The model chosen per group
# `tied_with` lists the models whose backtest MASE was within the tolerance of the best; the
# simplest of the tied models is used (seasonal naive, naive, moving average, identity,
# Croston, TSB, damped ETS, pooled seasonality, AutoETS, combination, AutoARIMA).

# %%
table(choice_table(result.forecaster.choice_), "Model chosen per measure and group, with the models it tied with.",
      rename={"n_series": "series"})

# %% [markdown]
# ## Intervals: nominal against backtest coverage

# %% tags=["nbval-ignore-output"]
intervals = interval_table(result.forecaster)
table(intervals, "Intervals: nominal coverage against the backtest coverage of the conformal and base-model "
      "intervals.", percent=["nominal", "conformal_coverage", "base_model_coverage"])

# %%
# conformal 80 % intervals cover 65-95 % of backtest months at every level (few origins: coarse)
assert intervals["conformal_coverage"].between(0.65, 0.95).all(), intervals

# %% [markdown]
# ## Sell-in: inventory identity or direct forecast?
# The identity forecasts sell-out and orders what holds the distributor's observed days on hand
# (by month of the quarter); the best direct sell-in model is compared in the same backtest.

# %% tags=["nbval-ignore-output"]
table(identity_comparison(result.forecaster.backtest_), "Sell-in: the best direct model against the inventory "
      "identity, by level.", percent=["coverage_direct", "coverage_identity"],
      rename={"mase_direct": "MASE direct", "mase_identity": "MASE identity"})

# %% [markdown]
# ## Reconciliation used, and the forecasts
# Reconciled forecasts add up from distributors to regions to the nation and are non-negative.

# %%
table(result.forecaster.reconciliation_, "Reconciliation used per measure (bottom-up or MinT-shrink).",
      rename={"index": "measure", "value": "reconciliation"})

# %%
fan_chart(result.totals, result.forecaster.forecast_, "sell_out", top=top_series)
plt.show()

# %%
fan_chart(result.totals, result.forecaster.forecast_, "sell_in", top=top_series)
plt.show()

# %% tags=["nbval-ignore-output"]
table(result.tables["forecast"].query("level == 'national'").dropna(axis=1, how="all").drop(columns="level"),
      f"National forecasts per product and month, with their {1 - alpha:.0%} intervals.",
      rename={"product_id": "product"}, decimals={"forecast": 0, "lower": 0, "upper": 0})

# %% [markdown]
# ## Channel health
# Days on hand against the target band, with flags. The ordering policy revealed by the data:
# lot size (greatest common divisor of order quantities) and order-up-to target in days.

# %%
days_on_hand_heatmap(result.panel, doh_low=doh_low, doh_high=doh_high)
plt.show()

# %%
table(health_overview(result.health, result.policy), "Channel health per distributor and product: days on hand, "
      "the revealed ordering policy and the flags.", rename={"distributor_id": "distributor", "product_id": "product"})

# %% [markdown]
# ## Method
# Every distributor × product series, with its regional and national totals, is forecast by
# baselines (seasonal naive, naive, moving average), statsforecast AutoETS and AutoARIMA, a
# damped-trend Holt–Winters with multiplicative seasonality, a damped trend on series adjusted
# by the seasonality of the product's national total (pooled seasonality: two or three cycles
# are too few to estimate twelve factors per series), an equal-weight combination of the three
# ETS variants and, for intermittent series, Croston and TSB. Sell-in is also forecast through
# the inventory identity when stock is on file. A rolling-origin backtest (every origin with
# at least `min_train_months` of history that leaves the full horizon to score, the latest
# `n_origins`, `origin_step` months apart) scores each model by MASE; per level and measure
# the simplest model within `selection_tolerance` of the best is chosen (ties are listed). A
# group of more than `choice_sample` series chooses on a seeded random sample of that many:
# the models that take time (ETS, ARIMA, pooled seasonality, the combination) are backtested on
# the sample, the chosen one then on every series (the backtest table counts the series each
# model ran on).
# Forecasts are reconciled bottom-up or by MinT-shrink, whichever backtests better (ties to
# bottom-up). The intervals are split-conformal: the `1 - alpha` quantile of the backtest's
# scaled absolute errors per level and month ahead; their coverage is measured leaving each
# origin out in turn.

# %%
result.save(out_dir)
publish_findings(out_dir, findings, report.data_period(result))
