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
# visits, grading and the value estimate run too.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

import crmlab.config
import crmlab.io
from crmlab.features import doctor_month_panel
from crmlab.features import segmentation as seg
from crmlab.models.segmentation import doctor_value_estimate
from crmlab.reporting import save_outputs, setup_display
from crmlab.reporting import segmentation as report

setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
weight_tier = 0.2
weight_title = 0.2
weight_outpatients = 0.15
weight_beds = 0.1
weight_volume = 0.35
tier_points = {"3A": 100, "3B": 80, "2A": 60, "2B": 40, "1": 20, "other": 10}
title_points = {"chief": 100, "associate_chief": 75, "attending": 50, "resident": 25, "other": 25}
grade_a_min = 75
grade_b_min = 60
grade_c_min = 40
volume_months = 12
apportion_power = 2.0
potential_split = 0.5
adoption_split = 0.5
cluster_k_min = 2
cluster_k_max = 8
cluster_bootstrap = 20
quota_a = 4
quota_b = 2
quota_c = 1
quota_d = 0
compliance_alert = 0.8
unseen_weeks = 8
funnel_months = 3
quality_weight_channel = 0.4
quality_weight_duration = 0.3
quality_weight_product = 0.2
quality_weight_status = 0.1
quality_channel_points = {"face_to_face": 1.0, "remote": 0.6, "phone": 0.3, "messaging": 0.2, "email": 0.1,
                          "other": 0.2}
quality_target_minutes = 15

# %%
ds = crmlab.io.load(crmlab.config.resolve_path(data_dir), encoding=encoding, allow_rejects=allow_rejects)
params = dict(
    weight_tier=weight_tier, weight_title=weight_title, weight_outpatients=weight_outpatients,
    weight_beds=weight_beds, weight_volume=weight_volume, tier_points=tier_points, title_points=title_points,
    grade_a_min=grade_a_min, grade_b_min=grade_b_min, grade_c_min=grade_c_min,
    quota_a=quota_a, quota_b=quota_b, quota_c=quota_c, quota_d=quota_d,
    quality_weight_channel=quality_weight_channel, quality_weight_duration=quality_weight_duration,
    quality_weight_product=quality_weight_product, quality_weight_status=quality_weight_status,
    quality_channel_points=quality_channel_points, quality_target_minutes=quality_target_minutes,
)
parts = seg.segmentation_parts(ds)
quota = seg.quota_from_params(params)
own_products = seg.own_product_ids(ds.products)
indicators = report.run_part(parts, "doctor_grading", seg.doctor_indicators, ds.doctors, ds.accounts,
                             ds.prescriptions, products=ds.products, volume_months=volume_months)
grader = report.run_part(parts, "doctor_grading", report.fit_grader, indicators, params)
graded = report.run_part(parts, "doctor_grading", report.grade_doctors, grader, indicators)
account_value = report.run_part(parts, "value_estimate", seg.recent_sell_out, ds.sales, months=volume_months,
                                products=ds.products)
value_estimate = report.run_part(parts, "value_estimate", doctor_value_estimate, indicators, grader,
                                 account_value, power=apportion_power)

# %% [markdown]
# ## What this data supports
#
# Each part needs certain tables. A market with account-level sales only (no field
# force, no prescription data) gets the account segments; the doctor parts need
# `doctors`, the call plan needs `reps` and `visits`. Skipped parts say so below.

# %%
report.parts_table(parts)

# %% [markdown]
# ## Doctor grading
#
# Indicator points and weights used (volume is dropped when there are no prescriptions),
# then the number of doctors per grade.

# %%
report.grading_weights(grader)

# %%
report.grade_table(graded)

# %%
report.plot_grade_distribution(graded, by="region")
plt.show()

# %% [markdown]
# **How grades shift when a weight changes.** Rows: grades with the parameters above;
# columns: grades with the tier weight raised by 0.3 (everything else unchanged).

# %%
report.grade_shift(indicators, params, {"weight_tier": weight_tier + 0.3})

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
report.run_part(parts, "value_check", report.value_vs_volume, indicators, value_estimate)

# %% [markdown]
# ## Deciles
#
# **Doctors**: count deciles of monthly prescriptions over the last `volume_months`
# months (10 = top prescribers, 0 = none); without prescriptions the value estimate is
# ranked instead. **Accounts**: deciles of own sell-out and of each product's sell-out.
# Migration: decile in the previous period (rows) against the latest period (columns).

# %%
deciles = report.run_part(parts, "doctor_deciles", report.doctor_deciles, ds.prescriptions, products=ds.products,
                          months=volume_months, fallback=value_estimate)
value_before = report.run_part(parts, "value_estimate", doctor_value_estimate, indicators, grader,
                               report.run_part(parts, "value_estimate", seg.recent_sell_out, ds.sales,
                                               months=volume_months, lag=volume_months, products=ds.products),
                               power=apportion_power)
deciles_before = report.run_part(parts, "doctor_deciles", report.doctor_deciles, ds.prescriptions,
                                 products=ds.products, months=volume_months, lag=volume_months,
                                 fallback=value_before)
report.decile_counts(deciles)

# %%
report.migration(deciles_before, deciles)

# %%
account_deciles = report.run_part(parts, "account_deciles", seg.account_deciles, ds.sales, accounts=ds.accounts,
                                  products=ds.products, months=volume_months)
account_deciles_before = report.run_part(parts, "account_deciles", seg.account_deciles, ds.sales,
                                         accounts=ds.accounts, products=ds.products, months=volume_months,
                                         lag=volume_months)
report.decile_counts(account_deciles)

# %%
report.migration(account_deciles_before, account_deciles)

# %% [markdown]
# ## Accounts: potential × adoption
#
# Potential is the account's monthly category volume (own and competitor products of
# the same therapeutic areas written by its doctors); where not observed (pharmacies,
# or no doctor-level data at all) it is predicted from size. Adoption is own volume
# over potential. Cut at the medians: **Win** (high potential, low adoption),
# **Defend** (high, high), **Grow** (low, low), **Maintain** (low, high).

# %%
accounts = report.run_part(parts, "account_segments", seg.account_segments, ds.accounts, doctors=ds.doctors,
                           prescriptions=ds.prescriptions, sales=ds.sales, products=ds.products,
                           months=volume_months, potential_split=potential_split, adoption_split=adoption_split)
report.quadrant_table(accounts)

# %%
report.plot_potential_adoption(accounts)
plt.show()

# %% [markdown]
# ## Behavioural clusters
#
# Features per doctor over the last `volume_months` months: volume, trend,
# responsiveness to visits, visit frequency, events attended, share of remote visits.
# k-means for each k; the k with the highest silhouette is kept.

# %%
panel = report.run_part(parts, "clusters", doctor_month_panel, ds.doctors, ds.visits, ds.prescriptions,
                        events=ds.events, event_attendance=ds.event_attendance, products=ds.products)
behaviour = report.run_part(parts, "clusters", seg.doctor_behaviour, panel, months=volume_months)
clusters = report.run_part(parts, "clusters", report.fit_clusters, behaviour, k_min=cluster_k_min,
                           k_max=cluster_k_max, n_bootstrap=cluster_bootstrap, random_state=seed)
report.cluster_selection(clusters)

# %%
report.plot_cluster_selection(report.cluster_selection(clusters))
plt.show()

# %% [markdown]
# Stability: adjusted Rand index between the clustering and clusterings refitted on
# bootstrap resamples (1 = identical, 0 = chance).

# %%
report.cluster_stability(clusters)

# %%
profiles = report.profile_clusters(behaviour, clusters)
segments = report.doctor_segments(behaviour, clusters, profiles)
report.view(profiles, 2)

# %%
report.plot_cluster_profiles(profiles)
plt.show()

# %% [markdown]
# ## Call plan and SFE KPIs
#
# Planned visits = quota per grade × doctors of the grade in the rep's territory, for
# every month the rep is employed; actual = the rep's completed visits to those doctors.
# Compliance = actual / planned over target grades (quota > 0); reach = share of target
# doctors seen; frequency = visits per reached doctor; A coverage = share of grade-A
# doctors seen.

# %%
compliance = report.run_part(parts, "call_plan", seg.call_plan_compliance, ds.visits, ds.reps, graded, quota)
rep_kpis = report.run_part(parts, "call_plan", seg.sfe_kpis, compliance, quota, by="rep_id")
manager_kpis = report.run_part(parts, "call_plan", seg.sfe_kpis, compliance, quota, by="manager_id")
report.latest_month(manager_kpis)

# %%
report.plot_compliance_heatmap(rep_kpis)
plt.show()

# %% [markdown]
# **Alerts.** Reps below the compliance threshold in the latest month, and grade-A
# doctors not seen for `unseen_weeks` weeks.

# %%
report.view(report.run_part(parts, "call_plan", seg.compliance_alerts, rep_kpis, compliance_alert))

# %%
unseen = report.run_part(parts, "call_plan", seg.unseen_doctors, ds.visits, graded, weeks=unseen_weeks)
report.view(unseen, rows=10)

# %% [markdown]
# **Weekly plan vs actual** (last four weeks per rep) and **visit quality** per rep.

# %%
weekly = report.run_part(parts, "call_plan", seg.weekly_plan_vs_actual, ds.visits, compliance, quota,
                         doctor_grades=graded)
report.last_weeks(weekly)

# %%
quality = report.run_part(parts, "call_plan", seg.visit_quality, ds.visits, product_ids=own_products,
                          **seg.quality_from_params(params))
report.quality_by_rep(ds.visits, quality)

# %% [markdown]
# **Adoption funnel** per territory and product over the last `funnel_months` months:
# target doctors → reached → prescribing → growing.

# %%
funnel = report.run_part(parts, "funnel", seg.adoption_funnel, graded, ds.visits, ds.prescriptions, quota,
                         product_ids=own_products, months=funnel_months)
report.view(funnel, 2)

# %% [markdown]
# ## Manager explorer
#
# Move the weights and thresholds, pick a region, territory or specialty: the grade
# distribution, the segment × grade table and the latest month's compliance per rep
# update. (Interactive in Jupyter; the default view is printed below.)

# %% tags=["nbval-ignore-output"]
explorer = report.run_part(parts, "explorer", report.SegmentationExplorer, indicators, ds.visits, ds.reps,
                           params=params, quota=quota, segments=segments)
report.explorer_widget(explorer)

# %%
report.explorer_table(explorer, "grades")

# %%
report.explorer_table(explorer, "segments")

# %%
report.run_part(parts, "call_plan", report.explorer_table, explorer, "compliance")

# %%
summary = report.segmentation_summary(parts, graded=graded, grader=grader, clusters=clusters, rep_kpis=rep_kpis,
                                      unseen=unseen, accounts=accounts, compliance_alert=compliance_alert)
save_outputs(out_dir, summary, report.segmentation_outputs(
    indicators=indicators, graded=graded, deciles=deciles, segments=segments, value_estimate=value_estimate,
    accounts=accounts, account_deciles=account_deciles, compliance=compliance, rep_kpis=rep_kpis, funnel=funnel))
