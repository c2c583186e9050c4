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
# # Churn early warning
#
# Which doctors (or accounts) are about to be lost, and why. An entity is *active* if it
# had volume in at least `min_active_months` of the `active_months` months up to `as_of`;
# it *churns* if its volume in the `horizon_months` months after `as_of` is zero.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from crmlab.analyses import churn
from crmlab.reporting import churn as churn_report
from crmlab.reporting import churn_tables
from crmlab.reporting import rejects_note, setup_display
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
level = "doctor"
product_id = None
as_of = ""
active_months = 6
min_active_months = 3
horizon_months = 3
churn_share = 0.0
train_origins = 12
alert_threshold = 0.3
win_back_months = 2
top_k = 20
max_train_rows = 300000
time_unit = "auto"

# %%
result = churn.run(data_dir, **churn.ChurnParams.pick(globals()))

# %% [markdown]
# ## Key findings

# %%
findings = churn_report.key_findings(result)
show_findings(findings)

# %%
print(rejects_note(result.rejects), *churn_report.notes(result), sep="\n")

# %% [markdown]
# ## Backtest
# Fitted on snapshots whose outcomes were known at the evaluation origin, scored at that
# origin, compared with what happened by `as_of`. ROC AUC with DeLong's 95% interval (on
# the logit scale, so inside [0, 1]); precision in the top k; Brier score; lift = precision
# in the top k ÷ that of the best rule. `all_active`: every entity active at the origin;
# `still_active_last_month`: those still prescribing or buying in the origin's month, the
# hard cases a rep can still act on (an entity stays *active* for months after its volume
# stops, so many churners are already at zero when scored and every model ranks them easily).

# %%
if result.backtest is not None:
    churn_report.plot_gain(result.backtest)
    plt.show()
    churn_report.plot_calibration(result.backtest, result.backtest.chosen)
    plt.show()

# %%
print(result.summary()["backtest"]["note"])
churn_tables.metrics_report_table(result)

# %%
churn_tables.comparison_report_table(result.summary()) if result.backtest is not None else "no backtest"

# %% [markdown]
# ## Early warning: still prescribing or buying, at risk
# Active entities with risk at or above the threshold and volume in the last
# `win_back_months` months, ordered by risk × volume at stake (average monthly volume over
# the activity window × the horizon). Reasons a rep can act on (visits, colleagues lapsing,
# events) come first, then the trend. `risk_model` says which model gave the risk;
# `p_alive` (BG/NBD) is shown only where that model suits the data (irregular purchases
# dated by day or week) and never where it contradicts the risk.

# %%
churn_tables.alert_table(result.early_warning, "Early warning: still active, at risk, by risk × volume at stake "
                         "(first 15).")

# %% [markdown]
# ## Win-back: no volume for the last months
# At risk and without volume for `win_back_months` months or more: already lost unless won back.

# %%
churn_tables.alert_table(result.win_back, "Win-back: no volume for the last months, by risk × volume at stake "
                         "(first 15).")

# %% [markdown]
# ## Probability alive (BG/NBD)
# Fitted by maximum likelihood on every entity's purchase occasions up to `as_of`, in the
# time unit shown. Its estimates depend on the optimiser in their last digits (and are
# not identified when purchase rates hardly vary: `r` and `alpha` then run to their bound
# with `r / alpha`, the mean rate, fixed), so they are shown here and checked below.

# %% tags=["nbval-ignore-output"]
table(churn_report.bgnbd_table(result).rename_axis("parameter"), "BG/NBD estimates with their 95% intervals.")

# %%
print(churn_report.bgnbd_check_note(result.bgnbd_check))

# %%
# check: the mean purchase rate (r / alpha, per time unit) of the sample, measured 0.992
# per month on data/sample (seed 7); it is identified even when r and alpha are at their bound
if data_dir == "data/sample" and level == "doctor" and result.scored.bgnbd is not None:
    assert abs(result.scored.bgnbd.mean_rate_ - 0.992) < 0.005, result.scored.bgnbd.mean_rate_

# %% [markdown]
# ## Retention curves (Kaplan–Meier) by grade and by volume segment

# %%
if len(result.curves["grade"]):
    churn_report.plot_retention(result.curves["grade"], "Retention by account grade")
    plt.show()
    churn_report.plot_retention(result.curves["segment"], "Retention by early-volume segment")
    plt.show()

# %% [markdown]
# ## Risk by territory

# %%
churn_report.plot_risk_by_group(result.by_territory)
plt.show()
churn_tables.territory_table(result.by_territory)

# %% [markdown]
# ## Method
# Features are computed as of each month from the past only (recency, frequency, trend,
# decline run, volatility, visits, events, peers lapsing in the same account or territory,
# grade). With `active_months + 2 × horizon_months` months of history up to `as_of`, the
# models are compared in one time-split backtest: two rules a manager would use (last
# month's volume, the 3-month decline), calibrated gradient boosting and logistic
# regression, and a Cox model with time-varying covariates; the learned model with the
# highest ROC AUC is refitted and scores the active entities, and the reasons come from
# each feature's contribution to its log-odds. With less history the risk is the BG/NBD
# probability of no purchase over the horizon and the reasons come from the rules. The
# BG/NBD works on purchase occasions by `time_unit` (by default the finest grain the
# data has: a day for dated sales, a month for monthly prescriptions). Doctor names are
# never shown.

# %%
result.save(out_dir)
publish_findings(out_dir, findings, churn_report.data_period(result))
