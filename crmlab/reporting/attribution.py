"""Plots of the attribution analysis; each returns the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def plot_event_study(event_study: pd.DataFrame):
    """Event-time coefficients with 95% intervals, one panel per event type.

    Examples
    --------
    >>> fig = plot_event_study(report.tables["event_study"])  # doctest: +SKIP
    """
    types = list(dict.fromkeys(event_study["event_type"]))
    fig, axes = plt.subplots(1, max(len(types), 1), figsize=(4 * max(len(types), 1), 3.5), squeeze=False)
    for ax, event_type in zip(axes[0], types):
        d = event_study[event_study["event_type"] == event_type]
        ax.errorbar(d["months_after"], d["estimate"], yerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
                    fmt="o", capsize=2)
        ax.axhline(0, color="grey", lw=1)
        ax.axvline(-0.5, color="grey", ls=":")
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
    ax.axhline(0, color="grey", lw=1)
    ax.set_ylabel("ROI")
    fig.tight_layout()
    return fig


def plot_campaign(path: pd.DataFrame):
    """Region sales against its synthetic control."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(path["month"], path["actual"], label="region")
    ax.plot(path["month"], path["synthetic"], ls="--", label="synthetic control")
    start = path.loc[path["post"], "month"].min()
    ax.axvline(start, color="grey", ls=":")
    ax.legend()
    fig.tight_layout()
    return fig
