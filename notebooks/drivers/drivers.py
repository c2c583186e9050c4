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
# # Why sales moved
#
# The change in own-product units over the last months (parameter `months`), against the same months
# a year earlier (or the months just before), split into drivers that add up to it:
# market, visits, events, prescribers who stopped, new prescribers, the rest of the
# continuing prescribers, distributors' stock, and other. Then activity beside results:
# which territories worked well and still fell short, and the reverse.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import drivers
from crmlab.reporting import drivers as report
from crmlab.reporting import rejects_note, setup_display
from crmlab.reporting.findings import publish_findings, show_findings

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
merge_duplicates = ""
months = 3
compare = "previous_year"
end = ""
alpha = 0.05
max_units = 20000
top_units = 5
visit_design = "main"

# %%
result = drivers.run(data_dir, **drivers.DriversParams.pick(globals()))

# %% [markdown]
# ## Key findings

# %% tags=["nbval-ignore-output"]
findings = report.key_findings(result)
show_findings(findings)

# %%
print(rejects_note(result.rejects), *report.notes(result), sep="\n")

# %% [markdown]
# ## The bridge: nation and regions
# Each bar is a driver's contribution to the change in units; the last bar is the total.
# Green adds, red takes away.

# %%
report.plot_waterfalls(result)
plt.show()

# %% tags=["nbval-ignore-output"]
report.bridge_table(result)

# %% tags=["nbval-ignore-output"]
report.bridge_table(result, "region")

# %% tags=["nbval-ignore-output"]
report.product_table(result)

# %%
# check: the drivers of every unit add up to its total (to the rounding of a float)
check = result.bridge.pivot_table(index=["level", "unit_id", "product_id"], columns="driver", values="change")
assert (check.drop(columns="total").sum(axis=1) - check["total"]).abs().max() < 1e-6

# %% [markdown]
# ## Where sales fell short of the market
# The territories whose change fell furthest below what the market alone would have
# given, each in one sentence.

# %% tags=["nbval-ignore-output"]
report.shortfall_table(result)

# %% [markdown]
# ## Territories by driver
# Every territory's drivers (red = units lost), and its most negative driver apart
# from market.

# %% tags=["nbval-ignore-output"]
report.plot_driver_grid(result)
plt.show()

# %% tags=["nbval-ignore-output"]
report.main_driver_table(result)

# %% [markdown]
# ## Process against result
# Activity (visits, reach, frequency, plan compliance, share of visits to A/B doctors,
# events) beside the result (the shortfall against market). Good activity with poor
# results points to something visits do not fix (a competitor, lost prescribers); poor
# activity with good results to a market carrying the territory. `scorecard.csv` has
# the same per rep and per month, with attainment where a `targets` table exists.

# %% tags=["nbval-ignore-output"]
report.scorecard_table(result)

# %% [markdown]
# ## Method
# Windows: the last `months` months to `end` (default: the last month in the data)
# against the same months a year earlier (`compare: previous_year`) or the months just
# before (`previous_period`). The total is the change in sell-in (shipments) when the
# data have it, else sell-out (sales), else prescriptions. Per prescriber (a doctor, or
# an account without doctors; an account when there are no doctor-level prescriptions)
# and product: a prescriber with volume before and none now is *lapsed* (all its change
# is `lapsed_prescribers`), the reverse is *new*. For continuing prescribers `visits` is
# the change in the visit lift estimated by the attribution analysis (adstock with
# estimated carry-over, saturation and channel weights, doctor and month × size fixed
# effects; scaled to the capacity-shock IV when attribution's main design is the IV,
# i.e. when reps chase demand), `events` the change in the event lift (attribution's
# event studies, per attendee and month), `market` the volume without that lift before
# times the growth of the same volume among continuing prescribers *outside the region*
# (so a competitor, a vacancy or a destocking inside it is not read as its market), and
# `existing_prescribers` the rest. `channel_stock` is each distributor's change in sell-in
# minus sell-out, shared out to territories by their sell-out through it; `other` is the
# sell-out not written by the prescribers' prescriptions (returns, rounding). Bounds:
# visits and events scale with their effect's interval, market with the standard error
# of the growth across territories; counted drivers have none. Doctor names are never
# shown.

# %%
result.save(out_dir)
publish_findings(out_dir, findings, report.data_period(result))
