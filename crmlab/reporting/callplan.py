"""Call plan report: key findings, plan comparison, capacity curve, segments, changes per territory.

Tables carry doctor and territory IDs only; doctor names never appear.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlab.reporting import style
from crmlab.reporting.tables import fmt_interval, table

PLAN_NAMES = {"current": "current plan", "grade_quota": "grade quotas (segmentation)",
              "recommended": "recommended"}


def data_period(result) -> str:
    """The months of the prescriptions, e.g. "2023-01 to 2025-12"."""
    return f"{result.months[0]:%Y-%m} to {result.months[-1]:%Y-%m}"


def _units(estimate, low, high, decimals: int = 0) -> str:
    return fmt_interval(estimate, low, high, decimals=decimals)


def key_findings(result) -> list[str]:
    """The answers in words and numbers, generated from the result."""
    s = result.summary()
    plans = result.plans.set_index("plan")
    cur, quota, rec = (plans.loc[name] for name in ("current", "grade_quota", "recommended"))
    gain = result.gain
    out = [f"With the same {s['capacity_visits_per_month']:,.0f} visits a month, the recommended plan is expected to "
           f"add {_units(gain['estimate'], gain['ci_low'], gain['ci_high'])} {result.product_id} prescriptions a "
           f"month in the long run over the current plan ({s['gain_pct']:+.0%}), moving "
           f"{s['share_of_visits_moved']:.0%} of the visits."]
    out.append(f"Expected long-run incremental prescriptions a month: current plan "
               f"{_units(cur['expected_incremental_units'], cur['ci_low'], cur['ci_high'])}, grade quotas "
               f"{_units(quota['expected_incremental_units'], quota['ci_low'], quota['ci_high'])}, recommended "
               f"{_units(rec['expected_incremental_units'], rec['ci_low'], rec['ci_high'])}.")
    lapsed = int((result.doctors["status"] == "lapsed").sum())
    if cur["visits_to_lapsed"] > 0:
        out.append(f"{cur['visits_to_lapsed']:.0f} visits a month ({cur['visits_to_lapsed'] / cur['visits_per_month']:.0%}) "
                   f"go to {lapsed} doctors who no longer prescribe {result.product_id}; the plan moves them to "
                   "doctors who respond.")
    seg = result.segments[result.segments["by"] == "potential quintile"]
    if len(seg):
        best, worst = seg.loc[seg["estimate"].idxmax()], seg.loc[seg["estimate"].idxmin()]
        out.append(f"The first visit of a month adds most in potential quintile {best['segment']} "
                   f"({_units(best['estimate'], best['ci_low'], best['ci_high'], 2)} prescriptions over all months, "
                   f"{best['current_visits_per_month']:.1f} visits a month now, {best['recommended_visits_per_month']:.1f} "
                   f"recommended) and least in {worst['segment']} "
                   f"({_units(worst['estimate'], worst['ci_low'], worst['ci_high'], 2)}; "
                   f"{worst['current_visits_per_month']:.1f} now, {worst['recommended_visits_per_month']:.1f} recommended); "
                   f"the 4th visit of a month adds {result.response.saturation_ ** 3:.0%} of the first.")
    curve = result.capacity_curve.set_index("capacity_change_pct")
    if {-10, 0, 10} <= set(curve.index):
        up = curve.loc[10, "expected_incremental_units"] - curve.loc[0, "expected_incremental_units"]
        down = curve.loc[0, "expected_incremental_units"] - curve.loc[-10, "expected_incremental_units"]
        out.append(f"Under the recommended plan 10% more capacity would add {up:,.0f} prescriptions a month and 10% "
                   f"less would cost {down:,.0f}: the marginal value of field time.")
    return out[:6]


def notes(result) -> list[str]:
    """What was estimated differently or not at all, in words."""
    return [f"Visit response: {result.scale_reason}.".replace("..", "."), *result.notes]


def plans_table(result):
    d = result.plans.assign(plan=result.plans["plan"].map(PLAN_NAMES))
    return table(d, f"Each plan's visits a month and expected long-run incremental {result.product_id} prescriptions a "
                    f"month, with {1 - result.params.alpha:.0%} intervals from the effects' sampling distribution.",
                 index="plan", decimals={"visits_per_month": 0, "visits_to_lapsed": 0})


def segments_table(result):
    return table(result.segments, "Long-run effect of a month's first visit per segment (estimated, with interval) "
                                  "beside the naive slope across doctors, and visits a month per doctor now and "
                                  "recommended; lapsed doctors left out.", index=["by", "segment"])


def territories_table(result):
    cols = ["territory_id", "capacity", "doctors", "lapsed_doctors", "current_units", "current_low", "current_high",
            "recommended_units", "recommended_low", "recommended_high"]
    return table(result.territories[cols], "Per territory: capacity (visits a month), and the current and recommended "
                                           "plans' expected long-run incremental prescriptions a month with intervals.",
                 index="territory_id", decimals={"capacity": 0, "lapsed_doctors": 0})


def changes_table(result, rows: int = 15):
    return table(result.changes.head(rows), f"The largest recommended changes (first {rows}): doctors to see more and "
                                            "less, by territory; visits a month.", index=["territory_id", "direction"])


def capacity_table(result):
    return table(result.capacity_curve, "Capacity curve: expected long-run incremental prescriptions a month under "
                                        "the recommended plan as the field force's capacity changes.",
                 index="capacity_change_pct", decimals={"visits_per_month": 0})


def plot_plans(result):
    """Expected incremental units of each plan, with intervals."""
    d = result.plans
    fig, ax = plt.subplots(figsize=(7, 2.8))
    y = d["expected_incremental_units"]
    ax.barh(d["plan"].map(PLAN_NAMES), y, xerr=[y - d["ci_low"], d["ci_high"] - y], capsize=3,
            color=style.PALETTE[:len(d)])
    ax.set_xlabel(f"long-run incremental {result.product_id} prescriptions a month")
    fig.tight_layout()
    return fig


def plot_capacity_curve(result):
    """Expected incremental units against capacity change."""
    d = result.capacity_curve
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(d["capacity_change_pct"], d["expected_incremental_units"], marker="o", color=style.PALETTE[0])
    ax.fill_between(d["capacity_change_pct"], d["ci_low"], d["ci_high"], alpha=0.2, color=style.PALETTE[0])
    current = result.plans.set_index("plan").loc["current", "expected_incremental_units"]
    ax.axhline(current, ls="--", color=style.PALETTE[1], label="current plan at today's capacity")
    ax.set_xlabel("capacity change (%)")
    ax.set_ylabel("incremental prescriptions a month")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_segments(result):
    """Estimated effect per potential quintile beside the naive slope, and visits now / recommended."""
    d = result.segments[result.segments["by"] == "potential quintile"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    x = np.arange(len(d))
    axes[0].errorbar(x - 0.1, d["estimate"], yerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
                     fmt="o", capsize=3, label="estimated (fixed effects)", color=style.PALETTE[0])
    axes[0].plot(x + 0.1, d["naive"], "s", label="naive slope", color=style.PALETTE[3])
    axes[0].set_xticks(x, d["segment"])
    axes[0].set_xlabel("potential quintile")
    axes[0].set_ylabel("long-run effect of the first visit")
    axes[0].legend(frameon=False)
    axes[1].bar(x - 0.2, d["current_visits_per_month"], 0.4, label="current", color=style.PALETTE[1])
    axes[1].bar(x + 0.2, d["recommended_visits_per_month"], 0.4, label="recommended", color=style.PALETTE[0])
    axes[1].set_xticks(x, d["segment"])
    axes[1].set_xlabel("potential quintile")
    axes[1].set_ylabel("visits a month per doctor")
    axes[1].legend(frameon=False)
    fig.tight_layout()
    return fig


def method(result) -> str:
    """The method in words."""
    p = result.params
    return (
        "The response to visits is attribution's visit model: monthly prescriptions of each doctor on the adstock of "
        "saturated, channel-weighted visits, with doctor fixed effects (reps visit big prescribers more, so only the "
        "month-to-month variation within a doctor counts) and month x size-bin effects. The effect of a visit varies "
        f"with a smooth function of the doctor's potential percentile (a cubic spline with {p.n_knots} knots), "
        "specialty, title and account tier, estimated by interacting the visit regressor with them under the same "
        "fixed effects; the saturation is re-estimated under that model, and the deviations from the average effect "
        "are shrunk by empirical Bayes (a group of covariates without real differences drops out). Standard errors "
        "are cluster-robust by doctor. Where attribution's capacity-shock IV finds that reps chase demand, the effects "
        "are rescaled by its ratio to the fixed-effects estimate. Doctors without prescriptions in the last "
        f"{p.lapsed_months} months get no response; doctors prescribing in fewer than {p.min_history_months} months "
        "get their specialty's average effect with the spread within it added to the interval. A plan of v visits a "
        "month is worth effect x (1 - r^(k v)) / (1 - r) / (1 - carry-over) prescriptions a month in the long run "
        "(r the saturation, k the channel-weighted product detailing per completed visit). Each territory's "
        f"capacity (by default its completed visits a month over the last {p.capacity_months} months) is handed out "
        f"in steps of {p.step:g} visits to the doctors with the largest marginal return, within min_visits, "
        "max_visits and the must-see list; with a concave response this greedy allocation is optimal. The grade-"
        "quota plan gives each grade its quota from params/segmentation.yaml, scaled to the territory's capacity. "
        f"Intervals: {p.n_draws} draws of the effects from their (posterior) sampling distribution, each plan valued "
        "under every draw with the saturation drawn from its approximate sampling distribution (from the curvature of "
        "the profiled sum of squares); they do not include the uncertainty of the carry-over.")
