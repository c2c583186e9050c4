# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Attribution: what do visits and events add?
#
# How many prescriptions (or, without doctor-level data, units of sell-out) a detailing
# visit, an event and a regional campaign add, and whether they pay for themselves. The
# method is described at the end.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import attribution
from crmlab.reporting import rejects_note, setup_display
from crmlab.reporting import attribution as report
from crmlab.reporting.findings import publish_findings, show_findings
from crmlab.reporting.tables import table

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
merge_duplicates = ""
product_id = ""
cost_per_visit = 30.0
n_bins = 10
leads = 6
lags = 9
max_units = 20000
alpha = 0.05

# %%
result = attribution.run(data_dir, **attribution.AttributionParams.pick(globals()))

# %% [markdown]
# ## Key findings
#
# Estimates come from optimisation and vary in their last digits with the machine's
# numerical library; the cell after them checks each key figure against the value
# recorded on the committed sample, within its own standard error.

# %% tags=["nbval-ignore-output"]
findings = report.key_findings(result)
show_findings(findings)

# %%
checks = report.recorded_checks(result, data_dir)
assert checks["within"].all(), checks
print(report.headline(result), rejects_note(result.rejects), *result.notes, report.checks_note(checks), sep="\n")

# %% [markdown]
# ## Which design estimates the visit effect
# Reps may visit more after a doctor's prescribing rises (they chase demand); the
# within-doctor (fixed-effects) estimate then overstates. Months when a territory lost
# capacity (rep absences, vacancies, fewer visits to its other doctors) move visits for
# reasons reps do not choose: the IV design uses only them. It is the main design when its
# instruments are strong (first-stage F at least 10) and the data show demand-chasing
# (next month's visits "predict" more prescriptions this month under FE only); otherwise
# fixed effects, consistent and more precise when visits are not chasing demand, stay the
# main estimate. Both are shown, with a Hausman-type test: a gap between them alone also
# comes from effects that differ between doctors, so it does not decide.

# %%
print(f"Main design: {result.visit_design}")

# %% tags=["nbval-ignore-output"]
table(report.design_table(result), "Visit effect by design: long-run effect per visit, the lead placebo and the "
      "instruments' strength.")

# %% [markdown]
# ## Visit lift
# Effects per completed visit. `per_visit_long_run` sums all months; the naive pooled
# slope (no fixed effects) mixes the visit effect with doctor size.

# %%
if result.visit_model is not None:
    report.plot_naive_vs_causal(result.naive_vs_causal)
    report.plot_carryover(result.visit_model.results_.carryover_curve)
    report.plot_response_curve(result.visit_model.results_.response_curve)
    plt.show()

# %% tags=["nbval-ignore-output"]
table(report.effects_table(result.visit_model.results_.effects, alpha),
      "Visit effects of the main design, with their intervals.") if result.visit_model else None

# %% tags=["nbval-ignore-output"]
table(report.effects_table(result.naive_vs_causal, alpha),
      "Effect per visit: naive comparisons against the causal designs.") if result.visit_model else None

# %% [markdown]
# Long-run effect per visit by potential (terciles of the first 6 months' outcome),
# conditional on the pooled carry-over and saturation.

# %% tags=["nbval-ignore-output"]
table(report.effects_table(result.visit_effects_by_segment, alpha),
      "Long-run effect per visit by potential tercile.") if result.visit_model else None

# %% [markdown]
# ## Event lift
# Event-study coefficients per attendee (month -1 is the reference); the months before
# the event test for pre-trends.

# %%
report.plot_event_study(result.event_study)
plt.show()

# %%
table(result.event_study.groupby("event_type", sort=False).size().rename("months estimated"),
      "Months estimated in the event study, per event type.")

# %% tags=["nbval-ignore-output"]
table(report.event_effects_table(result), "Event effects per attendee, with pre-trend test and ROI.",
      percent=["ROI"])

# %% [markdown]
# ## Regional campaign (synthetic control) and ROI by event type

# %% tags=["nbval-ignore-output"]
if result.campaign_model is not None:
    report.plot_campaign(result.tables["campaign_path"])
    plt.show()
table(report.campaigns_table(result), "Regional campaigns (synthetic control): lift, incremental units and "
      "revenue, ROI and fit before the campaign.", rename={"event_id": "campaign"}, percent=["lift_pct", "roi"],
      decimals={"cost": 0, "incremental_units": 0, "incremental_revenue": 0})

# %% tags=["nbval-ignore-output"]
report.plot_roi_events(result.roi_events)
plt.show()
report.roi_events_table(result)

# %% [markdown]
# ## Account ROI: where extra visits would pay most
# Accounts ranked by the value of one more face-to-face visit a month, minus its cost.

# %%
print(f"{len(result.roi_accounts)} accounts, {int(result.roi_accounts['visits'].sum())} completed visits of "
      f"product {result.product_id}")

# %% tags=["nbval-ignore-output"]
table(result.roi_accounts, "The 10 accounts where one more visit a month pays most.", index="rank", rows=10,
      percent=["roi"])

# %% [markdown]
# ## Method

# %%
print(*report.methods(result), sep="\n\n")

# %%
result.save(out_dir)
publish_findings(out_dir, findings, report.data_period(result))
