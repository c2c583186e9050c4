# %% [markdown]
# # Data overview
#
# What the data directory holds: row counts and date ranges per table, rows rejected by
# the data contract, visits per rep per month, and sell-out and prescription trends by
# region. Doctor names and other personal fields are never shown.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

import crmlab
from crmlab.config import resolve_path
from crmlab.io import load
from crmlab.reporting import overview, save_outputs, setup_display

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False

# %%
ds = load(resolve_path(data_dir), encoding=encoding, allow_rejects=allow_rejects)
tables = overview.table_summary(ds)
print(f"crmlab {crmlab.__version__}: {data_dir}")

# %% [markdown]
# ## Tables

# %%
tables

# %% [markdown]
# ## Rows rejected by the data contract

# %%
overview.rejects_summary(ds)

# %% [markdown]
# ## Visits per rep per month
# Completed visits; `reps` counts reps with at least one visit in the month.

# %%
visits_per_rep = overview.visits_per_rep_month(ds.visits)
visits_per_rep.round(1).tail(12)

# %%
ax = visits_per_rep[["mean", "median"]].plot(title="Visits per active rep per month")
plt.show()

# %% [markdown]
# ## Sell-out by region (own products, units)

# %%
sell_out = overview.trend_by_region(ds, "sell_out")
if len(sell_out):
    overview.plot_trend(sell_out, "Sell-out by region", "units")
    plt.show()
sell_out.round(0).tail(6)

# %% [markdown]
# ## Prescriptions by region (own products)

# %%
trx = overview.trend_by_region(ds, "trx")
if len(trx):
    overview.plot_trend(trx, "Prescriptions by region", "prescriptions")
    plt.show()
trx.round(0).tail(6)

# %%
summary = {
    "data_dir": str(data_dir),
    "tables": {name: int(rows) for name, rows in tables["rows"].items()},
    "rejected_rows": int(len(ds.rejects)),
    "first_month": str(tables["first"].replace("", None).dropna().min()),
    "last_month": str(tables["last"].replace("", None).dropna().max()),
}
save_outputs(out_dir, summary, {"tables": tables.reset_index(), "visits_per_rep": visits_per_rep.reset_index()})
