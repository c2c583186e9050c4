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
# # Call plan
#
# How often to see each doctor, from the measured response to visits, within the field
# force we have: the recommended visits a month per doctor, compared with the current plan
# and with the grade quotas, and what more or less capacity would give.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import callplan
from crmlab.reporting import callplan as callplan_report
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
product_id = ""
capacity_months = 6
capacity_per_rep = None
capacity_file = ""
min_visits = 0.0
max_visits = 6.0
must_see_file = ""
must_see_visits = 1.0
step = 0.1
unit_price = None
cost_per_visit = 0.0
lapsed_months = 3
min_history_months = 12
n_knots = 5
correct_for_chasing = True
n_draws = 300
n_bins = 10
max_units = 20000
alpha = 0.05

# %%
result = callplan.run(data_dir, **callplan.CallplanParams.pick(globals()))

# %% [markdown]
# ## Key findings

# %% tags=["nbval-ignore-output"]
findings = callplan_report.key_findings(result)
show_findings(findings)

# %% tags=["nbval-ignore-output"]
print(rejects_note(result.rejects), *callplan_report.notes(result), sep="\n")

# %%
# checks that hold on any data: no territory gets more visits than its capacity, the
# recommended plan is worth at least the current one under the estimated response, and it
# sends no visit to a lapsed doctor
territories = result.territories
assert (territories["recommended_visits"] <= territories["capacity"] + 1e-6).all()
plans = result.plans.set_index("plan")["expected_incremental_units"]
assert plans["recommended"] >= plans["current"] - 1e-6
assert result.doctors.loc[result.doctors["status"] == "lapsed", "recommended_visits_per_month"].sum() == 0

# %% [markdown]
# ## Three plans with the same visits
# Expected long-run incremental prescriptions a month of each plan, valued with the
# estimated response; the intervals come from drawing the effects from their sampling
# distribution. The estimates vary in their last digits with the machine's linear algebra,
# so the figures are shown, not compared verbatim.

# %% tags=["nbval-ignore-output"]
callplan_report.plot_plans(result)
plt.show()
callplan_report.plans_table(result)

# %% [markdown]
# ## Field-force sizing
# The recommended plan with every territory's capacity from −50% to +50%: the slope is the
# marginal value of a rep's time.

# %% tags=["nbval-ignore-output"]
callplan_report.plot_capacity_curve(result)
plt.show()
callplan_report.capacity_table(result)

# %% [markdown]
# ## Response by segment: estimated and naive
# The estimated long-run effect of a month's first visit by potential quintile, specialty,
# title and tier, beside the naive slope (comparing visited with less-visited doctors,
# which mixes the visit effect with doctor size).

# %% tags=["nbval-ignore-output"]
callplan_report.plot_segments(result)
plt.show()
callplan_report.segments_table(result)

# %% [markdown]
# ## Per territory

# %% tags=["nbval-ignore-output"]
callplan_report.territories_table(result)

# %% [markdown]
# ## Who to see more, who to see less

# %% tags=["nbval-ignore-output"]
callplan_report.changes_table(result)

# %% [markdown]
# ## Method

# %% tags=["nbval-ignore-output"]
print(callplan_report.method(result))

# %%
result.save(out_dir)
publish_findings(out_dir, findings, callplan_report.data_period(result))
