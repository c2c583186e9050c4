"""Tables and plots of the channel demand forecast (notebooks/forecast)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlab.reporting import style

LEVELS = ("national", "region", "distributor")


def data_note(result) -> str:
    """One sentence on what was forecast: series, months, flows, backtest origins.

    Examples
    --------
    >>> data_note(result)  # doctest: +SKIP
    '8 distributors × 2 products × 36 months; 26 series with totals; ...'
    """
    panel, fc = result.panel, result.forecaster
    flows = " and ".join(m.replace("_", "-") for m in fc.measures_)
    return (f"{panel['distributor_id'].nunique()} distributors × {panel['product_id'].nunique()} products × "
            f"{panel['month'].nunique()} months; {len(fc.keys_)} series with totals; forecasting {flows}; "
            f"{len(fc.origins_)} backtest origins, {fc.months_[fc.origins_[0] - 1]:%Y-%m} to "
            f"{fc.months_[fc.origins_[-1] - 1]:%Y-%m}, each scored on the next {fc.horizon_months} months.")


def skipped_note(skipped: dict) -> str:
    """The parts that did not run, each with its reason, or that every part ran.

    Examples
    --------
    >>> skipped_note({})
    'Every part ran: sell-out and sell-in forecasts, the inventory identity and channel health.'
    >>> print(skipped_note({"channel health": "no inventory table (distributor stock)"}))
    Skipped:
    - channel health: no inventory table (distributor stock)
    """
    if not skipped:
        return "Every part ran: sell-out and sell-in forecasts, the inventory identity and channel health."
    return "Skipped:\n" + "\n".join(f"- {part}: {reason}" for part, reason in skipped.items())


def accuracy_table(summary: dict) -> pd.DataFrame:
    """Backtest MASE of the chosen reconciled forecast against seasonal naive, per measure and level.

    Examples
    --------
    >>> accuracy_table(result.summary())  # doctest: +SKIP
    """
    table = pd.DataFrame(summary["backtest_vs_seasonal_naive"])
    table["vs_seasonal_naive"] = table["mase_reconciled"] / table["mase_seasonal_naive"]
    table["level"] = pd.Categorical(table["level"], LEVELS, ordered=True)
    return table.sort_values(["measure", "level"], ascending=[False, True]).round(3).reset_index(drop=True)


def data_period(result) -> str:
    """History and forecast months, e.g. "2023-01 to 2025-12; forecast to 2026-06"."""
    months = result.totals["month"]
    forecast = result.tables["forecast"]["month"]
    return (f"{pd.Timestamp(months.min()):%Y-%m} to {pd.Timestamp(months.max()):%Y-%m}; forecast to "
            f"{pd.Timestamp(forecast.max()):%Y-%m}")


def key_findings(result) -> list[str]:
    """Key findings in words and numbers, from the result (3 to 6 sentences).

    Examples
    --------
    >>> key_findings(result)  # doctest: +SKIP
    """
    from crmlab.reporting.tables import fmt_interval

    summary = result.summary()
    lines = []
    forecast = result.tables["forecast"]
    national = forecast[(forecast["level"] == "national") & (forecast["measure"] == "sell_out")]
    if len(national):
        first = national[national["month"] == national["month"].min()]
        per_product = "; ".join(f"{row.product_id} {fmt_interval(row.forecast, row.lower, row.upper, 0)}"
                                for row in first.itertuples())
        lines.append(f"National sell-out forecast for {pd.Timestamp(first['month'].iat[0]):%B %Y}, units "
                     f"({1 - result.params.alpha:.0%} interval): {per_product}.")
    for row in accuracy_table(summary).itertuples():
        if row.level != "distributor":
            continue
        chosen = result.forecaster.choice_
        models = chosen[(chosen["measure"] == row.measure) & (chosen["level"] == row.level)]["model"]
        share = models.value_counts(normalize=True)
        lines.append(f"{row.measure.replace('_', '-').capitalize()} per distributor: {share.index[0]} "
                     f"({share.iloc[0]:.0%} of series), reconciled by {summary['reconciliation'][row.measure]}; "
                     f"backtest MASE {row.mase_reconciled:.2f} against {row.mase_seasonal_naive:.2f} for "
                     f"seasonal naive ({1 - row.vs_seasonal_naive:+.0%} error reduction)."
                     .replace("(+", "(").replace("(-", "(−"))
    ties = [f"{tie['measure'].replace('_', '-')} / {tie['group']}: {tie['chosen']} (tied with "
            f"{', '.join(tie['tied_with'])})" for tie in summary["selection_ties"]]
    if ties:
        lines.append(f"Where models tied within {summary['selection']['tolerance']:.0%}, the simplest was kept: "
                     + "; ".join(ties) + ".")
    coverage = summary.get("interval_coverage", [])
    values = [c["coverage"] for c in coverage if c["coverage"] == c["coverage"]]
    if values:
        lines.append(f"Nominal {1 - result.params.alpha:.0%} intervals covered {min(values):.0%}–"
                     f"{max(values):.0%} of backtest months, by measure and level: plan stock on the interval, "
                     "not the point forecast.")
    if result.health is not None and "flags" in result.health:
        flagged = result.health["flags"].fillna("").astype(str).str.len().gt(0)
        lines.append(f"Channel health: {int(flagged.sum())} of {len(flagged)} distributor × product series "
                     "carry a flag (stock outside the target band, stocking up or a stock-out risk); see the "
                     "table under Channel health.")
    if result.skipped:
        lines.append("; ".join(f"{part} skipped ({reason})" for part, reason in result.skipped.items()) + ".")
    return lines[:6]


def national_totals(totals: pd.DataFrame, months: int = 8) -> pd.DataFrame:
    """The last ``months`` months of the national totals, per product.

    Examples
    --------
    >>> national_totals(result.totals)  # doctest: +SKIP
    """
    national = totals[totals["level"] == "national"].drop(columns=["level", "region", "distributor_id"])
    national = national.assign(month=national["month"].dt.strftime("%Y-%m"))
    return national.groupby("product_id").tail(months).round(1).reset_index(drop=True)


def choice_table(choice: pd.DataFrame) -> pd.DataFrame:
    """The chosen model per measure and group, how many series, and the models it tied with.

    Examples
    --------
    >>> choice_table(fc.choice_)  # doctest: +SKIP
    """
    table = (choice.groupby(["measure", "group", "model", "tied_with"], sort=True)
             .agg(n_series=("series_id", "size")).reset_index())
    return table.sort_values(["measure", "group"], ascending=[False, True]).reset_index(drop=True)


def interval_table(forecaster) -> pd.DataFrame:
    """Backtest coverage of the intervals: conformal (reconciled) and the chosen base models' own.

    Examples
    --------
    >>> interval_table(result.forecaster)  # doctest: +SKIP
    """
    bt = forecaster.backtest_.set_index(["model", "level", "measure"])
    rows = []
    for (measure, level), part in forecaster.intervals_.groupby(["measure", "level"], sort=False):
        chosen = forecaster.choice_[(forecaster.choice_["measure"] == measure) &
                                    (forecaster.choice_["level"] == level)]["model"].mode().iat[0]
        rows.append({"measure": measure, "level": level, "nominal": 1 - forecaster.alpha,
                     "conformal_coverage": part["coverage"].mean(),
                     "base_model": chosen, "base_model_coverage": bt.at[(chosen, level, measure), "coverage"]})
    return pd.DataFrame(rows).round(3)


def identity_comparison(backtest: pd.DataFrame) -> pd.DataFrame:
    """Sell-in: the inventory identity against the best direct sell-in model, per level.

    Examples
    --------
    >>> identity_comparison(fc.backtest_)  # doctest: +SKIP
    """
    sell_in = backtest[(backtest["measure"] == "sell_in") & ~backtest["model"].str.startswith("reconciled_")]
    if "identity" not in set(sell_in["model"]):
        return pd.DataFrame(columns=["level", "best_direct_model", "mase_direct", "mase_identity", "better"])
    rows = []
    for level in ("national", "region", "distributor"):
        mine = sell_in[sell_in["level"] == level]
        direct = mine[mine["model"] != "identity"].sort_values("mase").iloc[0]
        identity = mine[mine["model"] == "identity"].iloc[0]
        rows.append({"level": level, "best_direct_model": direct["model"], "mase_direct": direct["mase"],
                     "mase_identity": identity["mase"], "coverage_direct": direct["coverage"],
                     "coverage_identity": identity["coverage"],
                     "better": "identity" if identity["mase"] < direct["mase"] else "direct"})
    return pd.DataFrame(rows).round(3)


def health_overview(health: pd.DataFrame | None, policy: pd.DataFrame | None) -> pd.DataFrame:
    """Days on hand, the revealed ordering policy and the flags per distributor and product.

    Empty when channel health was skipped (no inventory, sell-in or sell-out).

    Examples
    --------
    >>> health_overview(None, None).empty
    True
    """
    columns = ["distributor_id", "region", "product_id", "days_on_hand", "days_on_hand_recent",
               "target_days_on_hand", "lot", "sell_in_to_sell_out", "days_covered_next_month", "flags"]
    if health is None:
        return pd.DataFrame(columns=columns)
    return health.merge(policy, on=["distributor_id", "product_id"], how="left")[columns].round(1)


def fan_chart(history: pd.DataFrame, forecast: pd.DataFrame, measure: str = "sell_out", top: int = 4):
    """History and forecast with its interval: national totals and the ``top`` largest distributors.

    Parameters
    ----------
    history : DataFrame
        :func:`crmlab.features.forecast.channel_hierarchy_panel`.
    forecast : DataFrame
        ``ChannelForecaster.forecast_``.

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> fan_chart(totals, fc.forecast_, "sell_out", top=4)  # doctest: +SKIP
    """
    if measure not in history:
        return None
    national = history[history["level"] == "national"][["level", "region", "distributor_id", "product_id"]] \
        .drop_duplicates()
    bottom = history[history["level"] == "distributor"]
    largest = (bottom.groupby(["level", "region", "distributor_id", "product_id"])[measure].sum()
               .sort_values(ascending=False, kind="stable").head(top).reset_index()
               .drop(columns=measure))
    panels = pd.concat([national, largest], ignore_index=True)
    n_cols = 2
    n_rows = int(np.ceil(len(panels) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(11, 2.8 * n_rows), squeeze=False, sharex=True)
    keys = ["level", "region", "distributor_id", "product_id"]
    for ax, row in zip(axes.ravel(), panels.itertuples(index=False)):
        match = dict(zip(keys, row))
        past = history.loc[(history[keys] == pd.Series(match)).all(axis=1)]
        ahead = forecast.loc[(forecast[keys] == pd.Series(match)).all(axis=1) & (forecast["measure"] == measure)]
        ax.plot(past["month"], past[measure], color=style.INK, lw=1.2, label="actual")
        ax.plot(ahead["month"], ahead["forecast"], color=style.PALETTE[0], lw=1.6, label="forecast")
        ax.fill_between(ahead["month"], ahead["lower"], ahead["upper"], color=style.PALETTE[0], alpha=0.25,
                        label="80% interval")
        name = "national" if match["level"] == "national" else match["distributor_id"]
        model = ahead["model"].iat[0] if len(ahead) else ""
        ax.set_title(f"{name} · {match['product_id']} ({model})", fontsize=10)
        ax.set_ylim(bottom=0)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(f"{measure.replace('_', '-')} forecast, units per month")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def accuracy_plot(backtest: pd.DataFrame):
    """Backtest MASE by model, one panel per measure, bars by level.

    Examples
    --------
    >>> accuracy_plot(fc.backtest_)  # doctest: +SKIP
    """
    measures = [m for m in ("sell_out", "sell_in") if m in set(backtest["measure"])]
    levels = list(LEVELS)
    fig, axes = plt.subplots(1, len(measures), figsize=(6 * len(measures), 4.2), sharey=True, squeeze=False)
    for ax, measure in zip(axes.ravel(), measures):
        table = (backtest[backtest["measure"] == measure].pivot_table(index="model", columns="level", values="mase")
                 .reindex(columns=levels))
        table = table.loc[table.mean(axis=1).sort_values().index]
        table.plot.bar(ax=ax, width=0.8)
        ax.axhline(1.0, color=style.MUTED, lw=0.8, ls="--")
        ax.set_title(measure.replace("_", "-"))
        ax.set_xlabel("")
        ax.set_ylabel("MASE (lower is better)")
    fig.tight_layout()
    return fig


def days_on_hand_heatmap(panel: pd.DataFrame, doh_low: float = 20.0, doh_high: float = 75.0):
    """Days on hand per distributor × product (rows) and month (columns).

    Examples
    --------
    >>> days_on_hand_heatmap(panel)  # doctest: +SKIP
    """
    import seaborn as sns

    if "days_on_hand" not in panel:
        return None

    wide = panel.assign(series=panel["distributor_id"] + " · " + panel["product_id"],
                        month=panel["month"].dt.strftime("%Y-%m")) \
        .pivot_table(index="series", columns="month", values="days_on_hand")
    height = min(12.0, 1.5 + 0.22 * len(wide))
    fig, ax = plt.subplots(figsize=(12, height))
    center = (doh_low + doh_high) / 2
    sns.heatmap(wide, ax=ax, cmap=style.DIVERGING, center=center, vmin=0, vmax=2 * center,
                cbar_kws={"label": "days on hand"}, yticklabels=len(wide) <= 60)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(f"Days on hand (target band {doh_low:g}–{doh_high:g} days)")
    fig.tight_layout()
    return fig
