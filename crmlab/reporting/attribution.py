"""What the attribution report shows: key findings, tables at the precision the method
supports, plots (each returns the matplotlib Figure), and the checks that keep the
committed notebook's figures honest across machines.

Uncertainty reads the same everywhere: "0.86 (95% CI 0.54 to 1.18)".
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlab.config import SAMPLE_DIR, resolve_path
from crmlab.reporting import style

#: Key figures recorded on ``data/sample`` with the default parameters. Their last digits
#: vary with the BLAS kernel and thread count (the fit is an optimisation), so the
#: notebook checks them within a stated tolerance instead of comparing printed digits:
#: ``se`` = within the figure's own standard error, else an absolute tolerance.
RECORDED_ON_SAMPLE = {
    "visit long-run effect per visit": (0.863, "se"),
    "IV long-run effect per visit": (0.964, "se"),
    "lead placebo, fixed effects": (0.010, "se"),
    "lead placebo, IV": (0.247, "se"),
    "IV first-stage F": (49.2, 1.0),
    "visit carry-over": (0.453, "se"),
    "naive pooled slope per visit": (2.968, "se"),
    "seminar total effect per attendee": (11.43, "se"),
    "launch total effect per attendee": (4.29, "se"),
    "campaign lift (share of sales)": (0.175, 0.01),
}


def decimals(std_error: float) -> int:
    """Decimals that show an estimate to the precision its standard error supports.

    Two significant digits of the standard error.

    Examples
    --------
    >>> decimals(0.163), decimals(0.066), decimals(12.0)
    (2, 3, 0)
    """
    if not std_error or not math.isfinite(std_error):
        return 2
    return max(0, 1 - math.floor(math.log10(abs(std_error))))


def format_estimate(effect: dict | None, alpha: float = 0.05) -> str:
    """``estimate (95% CI low to high)`` rounded by :func:`decimals`; "not estimated" for None.

    Examples
    --------
    >>> format_estimate({"estimate": 0.8634, "std_error": 0.163, "ci_low": 0.543, "ci_high": 1.183})
    '0.86 (95% CI 0.54–1.18)'
    """
    if not effect or effect.get("estimate") is None:
        return "not estimated"
    d = decimals(effect["std_error"])
    return (f"{effect['estimate']:.{d}f} ({100 * (1 - alpha):g}% CI {effect['ci_low']:.{d}f}–"
            f"{effect['ci_high']:.{d}f})")


def data_period(result) -> str:
    """The months of the outcome panel, e.g. "2023-01 to 2025-12"."""
    return f"{result.months[0]:%Y-%m} to {result.months[-1]:%Y-%m}"


def headline(result) -> str:
    """What was analysed: outcome, product, unit, months (exact text, no estimates)."""
    return (f"Outcome: {result.outcome} per {result.unit} and month, {result.months[0]:%Y-%m} to "
            f"{result.months[-1]:%Y-%m} ({len(result.months)} months); visit lift of product {result.product_id}.")


def key_findings(result) -> list[str]:
    """The answers in words and numbers, generated from the result."""
    alpha = result.params.alpha
    out = []
    model = result.visit_model
    if model is None:
        out.append(f"Visit lift was not estimated: {result.visits_not_estimated}.")
    else:
        out.append(result.visit_design_reason)
        long_run = result.visit_effect("per_visit_long_run")
        carry = result.visit_effect("carryover")
        naive = result.visit_benchmarks["naive"]
        out.append(f"Each completed visit adds {format_estimate(long_run, alpha)} {result.outcome} over all months; "
                   f"{carry['estimate']:.0%} of a month's effect carries over to the next month.")
        out.append(f"Comparing visited with less-visited {result.unit}s naively gives {naive['estimate']:.2f} per "
                   f"visit, {naive['estimate'] / long_run['estimate']:.1f} times the causal estimate: reps visit "
                   "the big prescribers more.")
    events = [effect for effect in result.event_effects if effect.estimated]
    if events:
        parts = [f"{effect.event_type} {'adds ' * (i == 0)}{format_estimate(effect.per_attendee_total, alpha)}"
                 f"{(' ' + result.outcome + ' per attendee') * (i == 0)} ({effect.attendees} attendees, "
                 f"ROI {_percent(effect.roi)})" for i, effect in enumerate(events)]
        paying = [effect.event_type for effect in events if effect.roi is not None and effect.roi > 0]
        advice = (f"only {', '.join(paying)} pay{'s' * (len(paying) == 1)} for {'itself' if len(paying) == 1 else 'themselves'}"
                  if paying else "no event type pays for itself at these costs")
        out.append("A " + "; a ".join(parts) + f": {advice}.")
    for campaign in result.campaigns:
        if campaign.estimated:
            out.append(f"The {campaign.region} campaign lifted the region's sales by {campaign.lift_pct:.0%} "
                       f"(placebo p-value {campaign.placebo_p_value:.2f}); ROI {_percent(campaign.roi)}.")
    return out


def _percent(value) -> str:
    return f"{value:.0%}" if value is not None and math.isfinite(value) else "not available"


def effects_table(effects: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Effects with their interval as text, indexed by effect (a ``summary()`` table).

    Examples
    --------
    >>> effects_table(pd.DataFrame({"effect": ["carryover"], "estimate": [0.4531], "std_error": [0.1],
    ...     "ci_low": [0.257], "ci_high": [0.649]})).iloc[0, 0]
    '0.45 (95% CI 0.26–0.65)'
    """
    key = next(c for c in ("effect", "method", "segment") if c in effects)
    column = f"estimate ({100 * (1 - alpha):g}% CI)"
    table = effects.set_index(key)
    out = pd.DataFrame({column: [format_estimate(row, alpha) for row in table.to_dict("records")]},
                       index=table.index)
    if "meaning" in table:
        out["meaning"] = table["meaning"]
    return out


def design_table(result) -> pd.DataFrame | None:
    """Long-run effect per visit by design (naive, fixed effects, IV), with the checks on each.

    Columns: the effect with its interval, the lead placebo (next month's visits on this
    month's outcome: zero under a valid design), the first-stage F (IV) and the
    Hausman-type p-value of FE against IV. The main design is marked.
    """
    if result.visit_model is None:
        return None
    alpha = result.params.alpha
    level = f"{100 * (1 - alpha):g}% CI"
    effect, lead = f"long-run effect per visit ({level})", f"lead placebo ({level})"
    block = result.design_summary()
    rows = [{"design": "naive pooled (no fixed effects)", effect: format_estimate(result.visit_benchmarks["naive"],
                                                                                  alpha)}]
    for name, label in (("fixed_effects", "fixed effects (within doctor)"), ("iv", "IV (territory capacity shocks)")):
        if block[name] is None:
            continue
        main = " (main)" if name == result.visit_design else ""
        placebo = block["lead_fe" if name == "fixed_effects" else "lead_iv"]
        rows.append({"design": label + main, effect: format_estimate(block[name], alpha),
                     lead: format_estimate(placebo, alpha) if placebo else "",
                     "first-stage F": f"{block['first_stage_f']:.0f}" if name == "iv" else "",
                     "Hausman p (FE vs IV)": f"{block['hausman_p_value']:.2f}" if name == "iv" else ""})
    columns = ["design", effect, lead, "first-stage F", "Hausman p (FE vs IV)"]
    return pd.DataFrame(rows, columns=columns).fillna("").set_index("design")


def event_effects_table(result) -> pd.DataFrame:
    """Per event type: events, attendees, total effect per attendee, ROI, pre-trend p-value."""
    alpha = result.params.alpha
    total = f"total per attendee ({100 * (1 - alpha):g}% CI)"
    columns = ["event type", "product", "events", "attendees", total, "months with a lift", "pre-trend p-value",
               "ROI", "note"]
    rows = [{"event type": e.event_type, "product": e.product_id, "events": e.events, "attendees": e.attendees,
             total: format_estimate(e.per_attendee_total, alpha), "months with a lift": e.effect_months,
             "pre-trend p-value": e.pretrend_p_value, "ROI": e.roi, "note": e.note or ""}
            for e in result.event_effects]
    return pd.DataFrame(rows, columns=columns).set_index("event type").round(2)


def campaigns_table(result) -> pd.DataFrame:
    """One row per regional campaign: lift, incremental units and revenue, ROI, placebo test."""
    columns = ["event_id", "region", "product_id", "start", "cost", "lift_pct", "incremental_units",
               "incremental_revenue", "roi", "pre_rmspe", "placebo_p_value", "placebo_rank", "donors", "note"]
    rows = [c.summary() for c in result.campaigns]
    return pd.DataFrame(rows, columns=columns).set_index("event_id").dropna(axis=1, how="all").round(3)


def methods(result) -> list[str]:
    """The method statements of every fitted model, once each."""
    found = [result.visit_summary()["method"]]
    found += [e["method"] for e in result.events if e.get("method")]
    return list(dict.fromkeys(found))


def roi_events_table(result):
    """ROI by event type as a report table: effect per attendee with its interval, ROI in percent."""
    from crmlab.reporting.tables import fmt_interval, table

    roi = result.roi_events.copy()
    roi.insert(roi.columns.get_loc("per_attendee_total"), "per attendee (95% CI)",
               [fmt_interval(r.per_attendee_total, r.per_attendee_total_ci_low, r.per_attendee_total_ci_high)
                for r in roi.itertuples()])
    roi = roi.drop(columns=["per_attendee_total", "per_attendee_total_ci_low", "per_attendee_total_ci_high"])
    return table(roi, f"ROI by event type: {result.outcome} added per attendee, incremental units and revenue "
                 "against the cost.", index="event_type", percent=["roi"],
                 decimals={"incremental_units": 0, "incremental_revenue": 0, "cost": 0})


def is_committed_sample(data_dir, params) -> bool:
    """True when the result is the committed sample's with the default parameters."""
    return Path(resolve_path(data_dir)).resolve() == Path(SAMPLE_DIR).resolve() and params == type(params)()


def recorded_checks(result, data_dir, recorded: dict = RECORDED_ON_SAMPLE) -> pd.DataFrame:
    """Key figures against the values recorded on the sample, each with its tolerance.

    Empty unless the result is the committed sample's with default parameters (other
    data have no recorded values). Columns: ``recorded, estimate, tolerance, within``.
    """
    columns = ["recorded", "estimate", "tolerance", "within"]
    if not is_committed_sample(data_dir, result.params):
        return pd.DataFrame(columns=columns)
    found = _key_figures(result)
    rows = {}
    for name, (value, tolerance) in recorded.items():
        figure = found.get(name, {"estimate": np.nan, "std_error": np.nan})
        tol = figure["std_error"] if tolerance == "se" else tolerance
        rows[name] = {"recorded": value, "estimate": figure["estimate"], "tolerance": tol,
                      "within": bool(abs(figure["estimate"] - value) <= tol)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def checks_note(checks: pd.DataFrame) -> str:
    """One stable sentence on :func:`recorded_checks` (no figures in it).

    Examples
    --------
    >>> checks_note(pd.DataFrame(columns=["within"]))
    'No recorded values for these data and parameters: nothing to check.'
    """
    if not len(checks):
        return "No recorded values for these data and parameters: nothing to check."
    return (f"{int(checks['within'].sum())} of {len(checks)} key figures lie within their stated tolerance of the "
            "values recorded on the sample.")


def _key_figures(result) -> dict:
    found = {}
    if result.visit_model is not None:
        found["visit long-run effect per visit"] = result.visit_model.results_.effect("per_visit_long_run")
    if result.iv_model is not None:
        iv = result.iv_model.results_
        found["IV long-run effect per visit"] = iv.effect("per_visit_long_run")
        found["lead placebo, fixed effects"] = iv.effect("lead_fe")
        found["lead placebo, IV"] = iv.effect("lead_iv")
        found["IV first-stage F"] = {"estimate": iv.diagnostics["first_stage_f"], "std_error": np.nan}
    if result.visit_model is not None:
        found["visit carry-over"] = result.visit_model.results_.effect("carryover")
        found["naive pooled slope per visit"] = result.visit_benchmarks["naive"]
    for effect in result.event_effects:
        if effect.estimated:
            found[f"{effect.event_type} total effect per attendee"] = effect.per_attendee_total
    for campaign in result.campaigns[:1]:
        if campaign.estimated:
            found["campaign lift (share of sales)"] = {"estimate": campaign.lift_pct, "std_error": np.nan}
    return found


def plot_event_study(event_study: pd.DataFrame):
    """Event-time coefficients with 95% intervals, one panel per event type.

    Examples
    --------
    >>> fig = plot_event_study(result.event_study)  # doctest: +SKIP
    """
    types = list(dict.fromkeys(event_study["event_type"]))
    fig, axes = plt.subplots(1, max(len(types), 1), figsize=(4 * max(len(types), 1), 3.5), squeeze=False)
    for ax, event_type in zip(axes[0], types):
        d = event_study[event_study["event_type"] == event_type]
        ax.errorbar(d["months_after"], d["estimate"], yerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
                    fmt="o", capsize=2)
        ax.axhline(0, color=style.MUTED, lw=1)
        ax.axvline(-0.5, color=style.MUTED, ls=":")
        ax.set_title(event_type)
        ax.set_xlabel("months after the event")
    axes[0][0].set_ylabel("lift per attendee")
    fig.tight_layout()
    return fig


def plot_carryover(carryover_curve: pd.DataFrame):
    """Share of a visit's effect still working k months later, with its interval."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(carryover_curve["months_after"], carryover_curve["share_remaining"], marker="o")
    ax.fill_between(carryover_curve["months_after"], carryover_curve["ci_low"], carryover_curve["ci_high"], alpha=0.3)
    ax.set_xlabel("months after the visit")
    ax.set_ylabel("share of effect remaining")
    fig.tight_layout()
    return fig


def plot_naive_vs_causal(naive_vs_causal: pd.DataFrame):
    """Long-run effect per visit: naive pooled slope against the fixed-effects estimates."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    d = naive_vs_causal
    ax.barh(d["method"], d["estimate"], xerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]], capsize=3)
    ax.set_xlabel("prescriptions per visit")
    fig.tight_layout()
    return fig


def plot_response_curve(response_curve: pd.DataFrame):
    """Marginal long-run effect of the n-th face-to-face visit in a month."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    d = response_curve
    ax.bar(d["visit_number"], d["marginal_long_run"],
           yerr=[d["marginal_long_run"] - d["long_run_ci_low"], d["long_run_ci_high"] - d["marginal_long_run"]],
           capsize=3)
    ax.set_xlabel("n-th visit in the month")
    ax.set_ylabel("long-run effect of that visit")
    fig.tight_layout()
    return fig


def plot_roi_events(roi_events: pd.DataFrame):
    """ROI ((incremental revenue - cost) / cost) by event type."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    d = roi_events.dropna(subset=["roi"])
    ax.bar(d["event_type"], d["roi"])
    ax.axhline(0, color=style.MUTED, lw=1)
    ax.set_ylabel("ROI")
    fig.tight_layout()
    return fig


def plot_campaign(path: pd.DataFrame):
    """Region sales against its synthetic control."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(path["month"], path["actual"], label="region")
    ax.plot(path["month"], path["synthetic"], ls="--", label="synthetic control")
    start = path.loc[path["post"], "month"].min()
    ax.axvline(start, color=style.MUTED, ls=":")
    ax.legend()
    fig.tight_layout()
    return fig
