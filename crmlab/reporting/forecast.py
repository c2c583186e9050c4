"""Tables and plots of the channel demand forecast (notebooks/forecast)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

def choice_table(choice: pd.DataFrame) -> pd.DataFrame:
    """The chosen model per level and measure, with how many series and its backtest MASE.

    Examples
    --------
    >>> choice_table(fc.choice_)  # doctest: +SKIP
    """
    table = (choice.groupby(["measure", "group", "model"], sort=True)
             .agg(n_series=("series_id", "size"), mase_chosen=("mase_chosen", "mean"),
                  mase_seasonal_naive=("mase_seasonal_naive", "mean")).reset_index())
    return table.sort_values(["measure", "group"], ascending=[False, True]).round(3).reset_index(drop=True)


def identity_comparison(backtest: pd.DataFrame) -> pd.DataFrame:
    """Sell-in: the inventory identity against the best direct sell-in model, per level.

    Examples
    --------
    >>> identity_comparison(fc.backtest_)  # doctest: +SKIP
    """
    sell_in = backtest[(backtest["measure"] == "sell_in") & ~backtest["model"].str.startswith("reconciled_")]
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
        ax.plot(past["month"], past[measure], color="black", lw=1.2, label="actual")
        ax.plot(ahead["month"], ahead["forecast"], color="tab:blue", lw=1.6, label="forecast")
        ax.fill_between(ahead["month"], ahead["lower"], ahead["upper"], color="tab:blue", alpha=0.25,
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
    measures = ["sell_out", "sell_in"]
    levels = ["national", "region", "distributor"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for ax, measure in zip(axes, measures):
        table = (backtest[backtest["measure"] == measure].pivot_table(index="model", columns="level", values="mase")
                 .reindex(columns=levels))
        table = table.loc[table.mean(axis=1).sort_values().index]
        table.plot.bar(ax=ax, width=0.8)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
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

    wide = panel.assign(series=panel["distributor_id"] + " · " + panel["product_id"],
                        month=panel["month"].dt.strftime("%Y-%m")) \
        .pivot_table(index="series", columns="month", values="days_on_hand")
    height = min(12.0, 1.5 + 0.22 * len(wide))
    fig, ax = plt.subplots(figsize=(12, height))
    center = (doh_low + doh_high) / 2
    sns.heatmap(wide, ax=ax, cmap="RdBu_r", center=center, vmin=0, vmax=2 * center,
                cbar_kws={"label": "days on hand"}, yticklabels=len(wide) <= 60)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(f"Days on hand (target band {doh_low:g}–{doh_high:g} days)")
    fig.tight_layout()
    return fig
