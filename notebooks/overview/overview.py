# %% [markdown]
# # Data overview
#
# What the data directory holds: row counts and date ranges per table, rows rejected by
# the data contract, visits per rep per month, and sell-out and prescription trends by
# region. Read it before any analysis: it says which months and tables the others see.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import overview
from crmlab.reporting import overview as report
from crmlab.reporting import setup_display
from crmlab.reporting.findings import publish_findings, show_findings

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
merge_duplicates = ""

# %%
result = overview.run(data_dir, **overview.OverviewParams.pick(globals()))

# %% [markdown]
# ## Key findings

# %%
findings = report.key_findings(result)
show_findings(findings)

# %% [markdown]
# ## Tables

# %%
report.tables_table(result)

# %% [markdown]
# ## Rows rejected by the data contract

# %%
report.failed_checks_table(result)

# %% [markdown]
# ## Visits per rep per month

# %%
report.plot_visits(result)
plt.show()
report.visits_table(result)

# %% [markdown]
# ## Sell-out by region (own products, units)

# %%
if len(result.sell_out):
    report.plot_trend(result.sell_out, "Sell-out by region", "units")
    plt.show()
report.trend_table(result.sell_out, "Own-product sell-out (units)") if len(result.sell_out) else "no sell-out data"

# %% [markdown]
# ## Prescriptions by region (own products)

# %%
if len(result.trx):
    report.plot_trend(result.trx, "Prescriptions by region", "prescriptions")
    plt.show()
report.trend_table(result.trx, "Own-product prescriptions") if len(result.trx) else "no prescription data"

# %% [markdown]
# ## Method
# Each table of the data contract is read and checked (types, keys, ranges, references);
# rows that fail are set aside and counted. Visits are the completed ones; a rep is active
# in a month with at least one visit. Sell-out is the distributors' sales of own products
# to accounts, prescriptions the doctors' own-product prescriptions, both summed by the
# account's region and month. Growth compares the last 3 months with the same 3 months a
# year before. Doctor names and other personal fields are never shown.

# %%
result.save(out_dir)
publish_findings(out_dir, findings, report.data_period(result))
