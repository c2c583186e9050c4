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
#     display_name: Python 3 (crmlab)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Segmentation and targeting
#
# Whom to visit and how often. **Doctor grading** scores each doctor from the account's
# tier, the doctor's title, the department's outpatients and beds and the doctor's own
# prescription volume — points from a table or a percentile, combined with weights —
# and grades A–D by thresholds; all of it lives in `params/segmentation.yaml`.
# **Data-driven segments**: prescription deciles and their migration, the account
# potential × adoption matrix, behavioural clusters of doctors (k chosen by silhouette,
# BIC shown, stability by bootstrap adjusted Rand index), and a **value estimate** per
# doctor that needs no doctor-level data: each account's sell-out is apportioned to its
# doctors by their grading indicators. **Call plan and SFE KPIs**: visit quota per
# grade, compliance, reach, frequency, grade-A coverage, alerts, weekly plan vs actual,
# visit quality and the adoption funnel. A **manager explorer** recomputes grades and
# compliance as the coefficients move.
#
# Each part runs when its tables hold data: with account-level sales only, the account
# segments (deciles per product, potential × adoption, decile migration) run and the
# doctor and call-plan parts print which table they need; with doctor profiles but no
# visits, grading and the value estimate run too. The method is at the end.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import segmentation
from crmlab.reporting import rejects_note, setup_display
from crmlab.reporting import segmentation as report
from crmlab.reporting.checks import checks_note
from crmlab.reporting.findings import publish_findings, show_findings
from crmlab.reporting.tables import table
from crmlab.reporting.segmentation_explorer import (
    explorer_compliance,
    explorer_table,
    explorer_widget,
    segmentation_explorer,
)

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
merge_duplicates = ""
weight_tier = 0.2
weight_title = 0.2
weight_outpatients = 0.15
weight_beds = 0.1
weight_volume = 0.35
tier_points = {"3A": 100, "3B": 80, "2A": 60, "2B": 40, "1": 20, "other": 10}
title_points = {"chief": 100, "associate_chief": 75, "attending": 50, "resident": 25, "other": 25}
grade_a_min = 75.0
grade_b_min = 60.0
grade_c_min = 40.0
volume_months = 12
apportion_power = 2.0
potential_split = 0.5
adoption_split = 0.5
cluster_k_min = 2
cluster_k_max = 8
cluster_bootstrap = 20
quota_a = 4.0
quota_b = 2.0
quota_c = 1.0
quota_d = 0.0
compliance_alert = 0.8
unseen_weeks = 8
funnel_months = 3
quality_weight_channel = 0.4
quality_weight_duration = 0.3
quality_weight_product = 0.2
quality_weight_status = 0.1
quality_channel_points = {"face_to_face": 1.0, "remote": 0.6, "phone": 0.3, "messaging": 0.2, "email": 0.1,
                          "other": 0.2}
quality_target_minutes = 15.0

# %%
result = segmentation.run(data_dir, **segmentation.SegmentationParams.pick(globals()))

# %% [markdown]
# ## Key findings

# %%
findings = report.key_findings(result)
show_findings(findings)

# %%
print(rejects_note(result.rejects))

# %% [markdown]
# ## What this data supports
#
# Each part needs certain tables. A market with account-level sales only (no field
# force, no prescription data) gets the account segments; the doctor parts need
# `doctors`, the call plan needs `reps` and `visits`. Skipped parts say so below.

# %%
table(report.parts_table(result.parts), "Parts of the segmentation and the tables each needs.")

# %% [markdown]
# ## Doctor grading
#
# Indicator points and weights used (volume is dropped when there are no prescriptions),
# then the number of doctors per grade.

# %%
report.grading_weights(result.grader)

# %%
report.grades(result.graded)

# %%
report.plot_grade_distribution(result.graded, by="region")
plt.show()

# %% [markdown]
# **How grades shift when a weight changes.** Rows: grades with the parameters above;
# columns: grades with the tier weight raised by 0.3 (everything else unchanged).

# %%
report.plot_grade_shift(result.indicators, result.params, {"weight_tier": weight_tier + 0.3})
plt.show()

# %% [markdown]
# ## Value estimate without doctor-level prescriptions
#
# Many markets only have account-level sales. The estimate below splits each account's
# monthly own-product sell-out over its doctors in proportion to their grading score
# computed **without** prescription volume (tier, title, department size), raised to
# the power `apportion_power`. It uses no doctor-level prescription data. Where
# prescriptions exist, its rank correlation with the doctors' observed volume shows how
# far it can be trusted.

# %%
report.value_check_table(result.value_check)

# %% [markdown]
# ## Deciles
#
# **Doctors**: count deciles of monthly prescriptions over the last `volume_months`
# months (10 = top prescribers, 0 = none); without prescriptions the value estimate is
# ranked instead. **Accounts**: deciles of own sell-out and of each product's sell-out.
# Migration: decile in the previous period (rows) against the latest period (columns);
# the diagonal holds those who stayed.

# %%
report.plot_migration(result.deciles_before, result.deciles, "doctors")
plt.show()

# %%
report.deciles_table(result.deciles, result.product_names, "doctors")

# %%
report.plot_migration(result.account_deciles_before, result.account_deciles, "accounts")
plt.show()

# %%
report.deciles_table(result.account_deciles, result.product_names, "accounts")

# %% [markdown]
# ## Accounts: potential × adoption
#
# Potential is the account's monthly category volume (own and competitor products of
# the same therapeutic areas written by its doctors); where not observed (pharmacies,
# or no doctor-level data at all) it is predicted from size. Adoption is own volume
# over potential. Cut at the medians: **Win** (high potential, low adoption),
# **Defend** (high, high), **Grow** (low, low), **Maintain** (low, high).

# %%
report.plot_potential_adoption(result.accounts)
plt.show()

# %%
report.quadrant_table(result.accounts)

# %% [markdown]
# ## Behavioural clusters
#
# Features per doctor over the last `volume_months` months: volume, trend,
# responsiveness to visits, visit frequency, events attended, share of remote visits.
# k-means for each k; the k with the highest silhouette is kept.
#
# k-means, the silhouette and the bootstrap depend on the order of floating-point sums
# (numerical library, threads), so their last digits may differ between machines: the
# cluster tables below are shown but not compared digit by digit, and the check cell
# after them holds the chosen k, the silhouette and the stability to the values recorded
# on the committed sample, within a stated tolerance.

# %%
report.plot_cluster_selection(report.cluster_selection(result.clusters))
plt.show()

# %% tags=["nbval-ignore-output"]
report.cluster_selection_table(result.clusters)

# %% [markdown]
# Stability: adjusted Rand index between the clustering and clusterings refitted on
# bootstrap resamples (1 = identical, 0 = chance).

# %% tags=["nbval-ignore-output"]
report.cluster_stability(result.clusters)

# %%
checks = report.recorded_checks(result, data_dir)
assert checks["within"].all(), checks
print(checks_note(checks, "clustering figures"))

# %%
report.plot_cluster_profiles(result.profiles)
plt.show()

# %% tags=["nbval-ignore-output"]
report.profiles_table(result.profiles)

# %% [markdown]
# ## Call plan and SFE KPIs
#
# Planned visits = quota per grade × doctors of the grade in the rep's territory, for
# every month the rep is employed; actual = the rep's completed visits to those doctors.
# Compliance = actual / planned over target grades (quota > 0); reach = share of target
# doctors seen; frequency = visits per reached doctor; A coverage = share of grade-A
# doctors seen.

# %%
report.plot_compliance_heatmap(result.rep_kpis)
plt.show()

# %%
report.kpi_table(report.latest_month(result.manager_kpis), "SFE KPIs per manager, latest month.")

# %% [markdown]
# **Alerts.** Reps below the compliance threshold in the latest month, and grade-A
# doctors not seen for `unseen_weeks` weeks.

# %%
report.kpi_table(result.alerts, "Reps below the compliance threshold in the latest month.")

# %%
report.kpi_table(result.unseen, f"Grade-A doctors not seen for {unseen_weeks} weeks (first 10).", rows=10)

# %% [markdown]
# **Weekly plan vs actual** (last four weeks per rep) and **visit quality** per rep.

# %%
report.kpi_table(report.last_weeks(result.weekly), "Weekly plan against actual visits, last four weeks "
                 "(first 16 rows).")

# %%
report.quality_table(result.rep_quality)

# %% [markdown]
# **Adoption funnel** per territory and product over the last `funnel_months` months:
# target doctors → reached → prescribing → growing.

# %%
report.kpi_table(result.funnel, "Adoption funnel per territory and product.")

# %% [markdown]
# ## Manager explorer
#
# Move the weights and thresholds, pick a region, territory or specialty: the grade
# distribution, the segment × grade table and the latest month's compliance per rep
# update. (Interactive in Jupyter and in the managers' dashboard, `crmlab app`; the default
# view is shown below.)

# %% tags=["nbval-ignore-output"]
explorer = segmentation_explorer(result)
explorer_widget(explorer)

# %%
table(explorer_table(explorer, "grades"), "Explorer: doctors per grade.", percent=["share"], decimals={"share": 1})

# %% tags=["nbval-ignore-output"]
table(explorer_table(explorer, "segments"), "Explorer: doctors per behavioural segment and grade.")

# %%
report.kpi_table(explorer_compliance(result, explorer), "Explorer: call plan compliance per rep, latest month.")

# %% [markdown]
# ## Method
#
# Grading: each indicator gets points from a table (tier, title) or its percentile among
# doctors (outpatients, beds, prescription volume); the score is their weighted sum and
# the grade follows from the thresholds. Deciles rank doctors (accounts) by monthly volume
# over the last `volume_months` months and the period before. Potential × adoption cuts
# accounts at the medians. Behavioural clusters are k-means on standardised features, k by
# silhouette, stability by bootstrap adjusted Rand index. The call plan counts planned
# visits as quota × doctors of each grade per rep and month. Doctor names are never shown.

# %%
result.save(out_dir)
publish_findings(out_dir, findings, report.data_period(result))
