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

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

import crmlab.config
import crmlab.io
from crmlab.features import doctor_month_panel
from crmlab.features import segmentation as seg
from crmlab.models.segmentation import (
    BehaviourClusters,
    DoctorGrader,
    cluster_profiles,
    doctor_value_estimate,
    grading_params,
)
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
quota = seg.quota_from_params(params)
own_products = seg.own_product_ids(ds.products)
indicators = seg.doctor_indicators(ds.doctors, ds.accounts, ds.prescriptions, products=ds.products,
                                   volume_months=volume_months)
grader = DoctorGrader(**grading_params(params)).fit(indicators)
graded = grader.transform(indicators)
grades = indicators[["doctor_id", "region", "territory_id", "specialty"]].assign(grade=graded["grade"].to_numpy())
sales_months = seg.period_months(seg.last_month(ds.sales["date"]), volume_months)
account_value = seg.account_sell_out(ds.sales, sales_months, own_products)
value_estimate = doctor_value_estimate(indicators, grader, account_value, power=apportion_power)

# %% [markdown]
# ## Doctor grading
#
# Indicator points and weights used (volume is dropped when there are no prescriptions),
# then the number of doctors per grade.

# %%
grader.weights_

# %%
report.grade_table(graded)

# %%
report.plot_grade_distribution(grades, by="region")
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
indicators.assign(value_estimate=indicators["doctor_id"].map(value_estimate).to_numpy())[
    ["volume", "value_estimate"]].corr(method="spearman").round(3)

# %% [markdown]
# ## Deciles
#
# Count deciles of monthly prescriptions over the last `volume_months` months (10 = top
# prescribers, 0 = none); without prescriptions the value estimate is ranked instead.
# Migration: decile in the previous period (rows) against the latest period (columns).

# %%
deciles = seg.doctor_deciles(ds.prescriptions, products=ds.products, months=volume_months, fallback=value_estimate)
deciles_before = seg.doctor_deciles(ds.prescriptions, products=ds.products, months=volume_months,
                                    lag=volume_months, fallback=value_estimate)
deciles.drop(columns="basis").apply(pd.Series.value_counts).fillna(0).astype(int)

# %%
seg.decile_migration(deciles_before["decile"], deciles["decile"])

# %% [markdown]
# ## Accounts: potential × adoption
#
# Potential is the account's monthly category volume (own and competitor products of
# the same therapeutic areas written by its doctors); where not observed (pharmacies)
# it is predicted from size. Adoption is own volume over potential. Cut at the
# medians: **Win** (high potential, low adoption), **Defend** (high, high), **Grow**
# (low, low), **Maintain** (low, high).

# %%
accounts = seg.potential_adoption_quadrants(
    seg.account_potential_adoption(ds.accounts, doctors=ds.doctors, prescriptions=ds.prescriptions,
                                   sales=ds.sales, products=ds.products, months=volume_months),
    potential_split=potential_split, adoption_split=adoption_split)
accounts["decile"] = seg.volume_deciles(accounts["own_volume"]).to_numpy()
accounts.groupby("quadrant")[["potential", "own_volume"]].agg(["size", "sum"]).round(1)

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
panel = doctor_month_panel(ds.doctors, ds.visits, ds.prescriptions, events=ds.events,
                           event_attendance=ds.event_attendance, products=ds.products)
behaviour = seg.doctor_behaviour(panel, months=volume_months)
clusters = BehaviourClusters(k_min=cluster_k_min, k_max=cluster_k_max, n_bootstrap=cluster_bootstrap,
                             random_state=seed).fit(behaviour)
clusters.selection_.round(3)

# %%
report.plot_cluster_selection(clusters.selection_)
plt.show()

# %% [markdown]
# Stability: adjusted Rand index between the clustering and clusterings refitted on
# bootstrap resamples (1 = identical, 0 = chance).

# %%
clusters.stability_.round(3)

# %%
profiles = cluster_profiles(behaviour, clusters.labels_)
segments = profiles.set_index("cluster")["name"].reindex(clusters.labels_).set_axis(behaviour.index)
profiles.round(2)

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
compliance = seg.call_plan_compliance(ds.visits, ds.reps, grades, quota)
rep_kpis = seg.sfe_kpis(compliance, quota, by="rep_id")
manager_kpis = seg.sfe_kpis(compliance, quota, by="manager_id")
manager_kpis[manager_kpis["month"] == manager_kpis["month"].max()].round(3)

# %%
report.plot_compliance_heatmap(rep_kpis)
plt.show()

# %% [markdown]
# **Alerts.** Reps below the compliance threshold in the latest month, and grade-A
# doctors not seen for `unseen_weeks` weeks.

# %%
seg.compliance_alerts(rep_kpis, compliance_alert).round(3)

# %%
unseen = seg.unseen_doctors(ds.visits, grades, weeks=unseen_weeks)
unseen.head(10)

# %% [markdown]
# **Weekly plan vs actual** (last four weeks per rep) and **visit quality** per rep.

# %%
weekly = seg.weekly_plan_vs_actual(ds.visits, compliance, quota, doctor_grades=grades)
weekly[weekly["week"] >= weekly["week"].max() - pd.Timedelta(weeks=3)].round(2).head(16)

# %%
quality = seg.visit_quality(ds.visits, product_ids=own_products, **seg.quality_from_params(params))
ds.visits.assign(quality=quality).groupby("rep_id")["quality"].agg(["size", "mean"]).round(1)

# %% [markdown]
# **Adoption funnel** per territory and product over the last `funnel_months` months:
# target doctors → reached → prescribing → growing.

# %%
funnel = seg.adoption_funnel(grades, ds.visits, ds.prescriptions, quota, product_ids=own_products,
                             months=funnel_months)
funnel.round(2)

# %% [markdown]
# ## Manager explorer
#
# Move the weights and thresholds, pick a region, territory or specialty: the grade
# distribution, the segment × grade table and the latest month's compliance per rep
# update. (Interactive in Jupyter; the default view is printed below.)

# %% tags=["nbval-ignore-output"]
explorer = report.SegmentationExplorer(indicators, ds.visits, ds.reps, params=params, quota=quota,
                                       segments=segments)
explorer.widget

# %%
explorer.tables["grades"]

# %%
explorer.tables["segments"]

# %%
explorer.tables["compliance"]

# %%
doctors_out = report.doctor_output(indicators, graded, decile=deciles["decile"], segment=segments,
                                   value_estimate=value_estimate.round(3))
compliance_out = compliance[["rep_id", "month", "grade", "doctors", "planned", "actual", "compliance"]]
latest = rep_kpis[rep_kpis["month"] == rep_kpis["month"].max()]
summary = {
    "doctors": len(graded),
    "grade_counts": report.grade_table(graded).set_index("grade")["doctors"].to_dict(),
    "volume_used_in_grading": grader.volume_used_,
    "value_estimate": "account own-product sell-out apportioned by grading score without volume",
    "clusters": clusters.n_clusters_,
    "cluster_silhouette": clusters.silhouette_,
    "cluster_stability_ari": clusters.stability_.loc[0, ["estimate", "ci_low", "ci_high"]].to_dict(),
    "latest_month": latest["month"].max(),
    "latest_month_compliance": latest["actual"].sum() / latest["planned"].sum(),
    "reps_below_alert": len(seg.compliance_alerts(rep_kpis, compliance_alert)),
    "grade_a_unseen": len(unseen),
    "quadrant_counts": accounts["quadrant"].value_counts().sort_index().to_dict(),
}
save_outputs(out_dir, summary, {
    "doctors": doctors_out,
    "accounts": accounts[["account_id", "potential", "adoption", "quadrant", "decile", "region",
                          "territory_id", "account_type", "own_volume", "potential_source"]],
    "compliance": compliance_out,
    "rep_kpis": rep_kpis,
    "funnel": funnel,
})
