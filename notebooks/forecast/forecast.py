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
# Distributor × product × month panel (sell-in from shipments, sell-out from sales,
# month-end inventory, days on hand), with regional and national totals. Every series is
# forecast `horizon_months` ahead by baselines (seasonal naive, naive, moving average),
# statsforecast AutoETS / AutoARIMA, their equal-weight combination and, for intermittent
# series, Croston and TSB. Sell-in is also forecast through the inventory identity (forecast
# sell-out, order what keeps the distributor's observed days on hand). A rolling-origin
# backtest (MASE, sMAPE, 80 % interval coverage) chooses the model per level and measure;
# the forecasts are made coherent across distributor → region → nation by bottom-up or MinT
# reconciliation, whichever backtests better. Channel health flags over- and under-stocking,
# stocking up, stock-out risk and unusual returns.

# %%
import crmlab.config
import crmlab.io
from crmlab.features.forecast import channel_hierarchy_panel, forecast_panel
from crmlab.models.forecast import ChannelForecaster, channel_health, estimate_channel_policy
from crmlab.reporting import save_outputs, setup_display
from crmlab.reporting.forecast import (accuracy_plot, backtest_table, choice_table, days_on_hand_heatmap,
                                       fan_chart, forecast_table, health_table, identity_comparison)
import matplotlib.pyplot as plt

# %matplotlib inline
setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
horizon_months = 6
n_origins = 3
origin_step = 2
min_train_months = 24
interval_level = 80
models = ["seasonal_naive", "naive", "moving_average", "auto_ets", "auto_arima", "combination", "croston", "tsb"]
selection = "group"
reconciliation = "auto"
intermittent_zero_share = 0.3
doh_low = 20.0
doh_high = 75.0
recent_months = 3
stocking_up_ratio = 1.2
stockout_days = 15.0
returns_share = 0.05
top_series = 4

# %%
ds = crmlab.io.load(crmlab.config.resolve_path(data_dir), encoding=encoding, allow_rejects=allow_rejects)
panel = forecast_panel(ds.shipments, ds.sales, ds.inventory, distributors=ds.distributors, products=ds.products)
totals = channel_hierarchy_panel(panel)
forecaster = ChannelForecaster(horizon_months=horizon_months, models=tuple(models), n_origins=n_origins,
                               origin_step=origin_step, min_train_months=min_train_months,
                               level=interval_level, selection=selection, reconciliation=reconciliation,
                               intermittent_zero_share=intermittent_zero_share).fit(panel)
health = channel_health(panel, forecaster.forecast_, doh_low=doh_low, doh_high=doh_high,
                        recent_months=recent_months, stocking_up_ratio=stocking_up_ratio,
                        stockout_days=stockout_days, returns_share=returns_share)
summary = forecaster.summary()
print(f"{panel['distributor_id'].nunique()} distributors × {panel['product_id'].nunique()} products × "
      f"{panel['month'].nunique()} months; {len(forecaster.keys_)} series with totals; "
      f"backtest origins {summary['backtest_origins']}")

# %% [markdown]
# ## The channel panel, national totals
# Sell-in is lumpier than sell-out (whole lots, quarter-end loading); days on hand is month-end
# inventory over the trailing 3-month average daily sell-out.

# %%
totals[totals["level"] == "national"].drop(columns=["level", "region", "distributor_id"]).tail(8).round(1)

# %% [markdown]
# ## Backtest: accuracy by model, level and measure
# MASE below 1 beats the in-sample seasonal naive; coverage is the share of actuals inside the
# 80 % interval. `reconciled_*` rows score the chosen models after reconciliation.

# %%
accuracy_plot(forecaster.backtest_)
plt.show()

# %%
backtest_table(forecaster.backtest_)

# %% [markdown]
# ## The model chosen per group, against seasonal naive

# %%
choice_table(forecaster.choice_)

# %% [markdown]
# ## Sell-in: inventory identity or direct forecast?
# The identity forecasts sell-out and orders what holds the distributor's observed days on hand
# (by month of the quarter); the best direct sell-in model is compared in the same backtest.

# %%
identity_comparison(forecaster.backtest_)

# %% [markdown]
# ## Reconciliation used, and the forecasts
# Reconciled forecasts add up from distributors to regions to the nation and are non-negative.

# %%
summary["reconciliation"]

# %%
fan_chart(totals, forecaster.forecast_, "sell_out", top=top_series)
plt.show()

# %%
fan_chart(totals, forecaster.forecast_, "sell_in", top=top_series)
plt.show()

# %%
forecast_table(forecaster.forecast_).query("level == 'national'")

# %% [markdown]
# ## Channel health
# Days on hand against the target band, with flags. The ordering policy revealed by the data:
# lot size (greatest common divisor of order quantities) and order-up-to target in days.

# %%
days_on_hand_heatmap(panel, doh_low=doh_low, doh_high=doh_high)
plt.show()

# %%
health_table(health).merge(estimate_channel_policy(ds.shipments, panel), on=["distributor_id", "product_id"]) \
    [["distributor_id", "region", "product_id", "days_on_hand", "days_on_hand_recent", "target_days_on_hand",
      "lot", "sell_in_to_sell_out", "days_covered_next_month", "flags"]].round(1)

# %%
tables = {"forecast": forecast_table(forecaster.forecast_), "backtest": backtest_table(forecaster.backtest_),
          "channel_health": health_table(health)}
save_outputs(out_dir, summary, tables)
