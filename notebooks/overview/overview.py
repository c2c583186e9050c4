# %% [markdown]
# # Data overview
#
# What the data directory holds: row counts and date ranges per table, rows rejected by
# the data contract, visits per rep per month, and sell-out and prescription trends by
# region. Doctor names and other personal fields are never shown.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import overview
from crmlab.reporting import rejects_note, setup_display
from crmlab.reporting.overview import plot_trend

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
print(f"{result.data_dir}: {result.summary()['first_month']} to {result.summary()['last_month']}")

# %% [markdown]
# ## Tables

# %%
result.table_rows

# %% [markdown]
# ## Rows rejected by the data contract

# %%
print(rejects_note(result.rejects))
result.failed_checks

# %% [markdown]
# ## Visits per rep per month
# Completed visits; `reps` counts reps with at least one visit in the month.

# %%
result.visits_per_rep.round(1).tail(12)

# %%
ax = result.visits_per_rep[["mean", "median"]].plot(title="Visits per active rep per month")
plt.show()

# %% [markdown]
# ## Sell-out by region (own products, units)

# %%
if len(result.sell_out):
    plot_trend(result.sell_out, "Sell-out by region", "units")
    plt.show()
result.sell_out.round(0).tail(6)

# %% [markdown]
# ## Prescriptions by region (own products)

# %%
if len(result.trx):
    plot_trend(result.trx, "Prescriptions by region", "prescriptions")
    plt.show()
result.trx.round(0).tail(6)

# %%
result.save(out_dir)
