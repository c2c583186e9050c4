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
# Visit lift: within-doctor (or within-account when only sales exist) panel regression with doctor and
# month × size fixed effects, an estimated carry-over (adstock decay), saturation within a month and
# channel weights; cluster-robust intervals by doctor; the naive pooled slope beside it shows the
# targeting bias. Events with attendance: staggered event study (imputation / two-stage DiD) of attendees
# against comparable non-attendees. Region campaign: synthetic control with placebo inference. ROI per
# event type and per account.

# %%
import crmlab.config
import crmlab.io
from crmlab.models.attribution import attribution_report
from crmlab.reporting import save_outputs, setup_display
from crmlab.reporting import attribution as plots

# %matplotlib inline
setup_display()

# %% tags=["parameters"]
data_dir = "data/sample"
out_dir = ""
encoding = "utf-8"
allow_rejects = False
seed = 7
product_id = ""
cost_per_visit = 30.0
n_bins = 10
leads = 6
lags = 9
max_units = 20000

# %%
ds = crmlab.io.load(crmlab.config.resolve_path(data_dir), encoding=encoding, allow_rejects=allow_rejects)
report = attribution_report(ds, product_id=product_id or None, cost_per_visit=cost_per_visit,
                            n_bins=n_bins, leads=leads, lags=lags, max_units=max_units, seed=seed)
summary, tables = report.summary, report.tables
print("outcome:", summary["outcome"], "| product:", summary["product_id"], "| unit:", summary["unit"])
print(*summary["notes"], sep="\n")

# %% [markdown]
# ## Visit lift
# Effects per completed visit, with 95% intervals. `per_visit_long_run` sums all months; the naive pooled
# slope (no fixed effects) mixes the visit effect with doctor size.

# %%
print(summary["visits"]["method"])
tables.get("visit_effects", tables["roi_accounts"].head(0)).round(3)

# %%
tables["naive_vs_causal"].round(3) if "naive_vs_causal" in tables else None

# %% [markdown]
# Long-run effect per visit by potential (terciles of the first 6 months' prescriptions), conditional on the
# pooled carry-over and saturation.

# %%
tables["visit_effects_by_segment"].round(3) if "visit_effects_by_segment" in tables else None

# %%
if "naive_vs_causal" in tables:
    plots.plot_naive_vs_causal(tables["naive_vs_causal"])
    plots.plot_carryover(tables["carryover_curve"])
    plots.plot_response_curve(tables["response_curve"])
    plots.plt.show()

# %% [markdown]
# ## Event lift
# Event-study coefficients per attendee (month -1 is the reference); leads test for pre-trends.

# %%
plots.plot_event_study(tables["event_study"])
plots.plt.show()

# %%
tables["event_study"].round(3)

# %% [markdown]
# ## Regional campaign (synthetic control) and ROI by event type

# %%
if "campaign_path" in tables:
    plots.plot_campaign(tables["campaign_path"])
    plots.plt.show()
[{k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.items() if k != "method"} for c in summary["campaigns"]]

# %%
plots.plot_roi_events(tables["roi_events"])
plots.plt.show()
tables["roi_events"].round(2)

# %% [markdown]
# ## Account ROI: where extra visits would pay most

# %%
tables["roi_accounts"].head(10).round(2)

# %%
save_outputs(out_dir, summary, tables)
