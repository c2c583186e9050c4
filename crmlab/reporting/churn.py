"""Churn early warning: reasons in words, the score and alert tables, plots.

Tables carry entity IDs only; doctor names never appear.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# feature -> phrase(value, level); only features whose value raised the risk are worded
_VOLUME_WORD = {"doctor": "prescriptions", "account": "sales"}


def _phrase(feature: str, value: float, level: str) -> str | None:
    word = _VOLUME_WORD.get(level, "volume")
    peers = "peers in this account" if level == "doctor" else "accounts in this territory"
    if feature == "days_since_purchase":
        return f"no purchase for {value:.0f} days"
    if feature == "usual_gap_days":
        return None if np.isnan(value) else f"usually every {value:.0f} days"
    if feature == "months_since_visit":
        return f"no visit for {int(round(value * 4.35))} weeks" if value >= 1 else None
    if feature == "decline_run":
        return f"{word} down {int(value)} months running" if value >= 1 else None
    if feature == "recency_months":
        return f"no {word} for {int(value)} months" if value >= 1 else f"{word} still running"
    if feature in ("peers_lapsing", "peer_lapsing_share"):
        return None if value <= 0 else (f"{value:.0%} of {peers} lapsing" if feature == "peer_lapsing_share"
                                        else f"{int(value)} {peers} lapsing")
    if feature == "last_to_12m":
        return f"last month at {value:.0%} of its 12-month average"
    if feature == "trend_3m":
        return f"{word} {'down' if value < 0 else 'up'} {abs(np.expm1(value)):.0%} over 3 months"
    if feature in ("volume_last", "volume_mean_3m"):
        return f"{word} {'last month' if feature == 'volume_last' else 'per month over 3 months'}: {value:.0f}"
    if feature == "log_volume_12m":
        return f"low volume ({np.expm1(value):.1f} per month over 12 months)"
    if feature == "volatility_12m":
        return f"irregular {word} (variation {value:.0%})"
    if feature == "active_months_12m":
        return f"{word} in only {int(value)} of the last 12 months"
    if feature == "visits_3m":
        return f"{int(value)} visits in 3 months"
    if feature == "visit_trend":
        return f"visits {'down' if value < 0 else 'up'} by {abs(int(value))} on the quarter before"
    if feature == "remote_share_6m":
        return f"{value:.0%} of visits remote"
    if feature == "events_12m":
        return "no event attended in 12 months" if value == 0 else f"{int(value)} events attended"
    if feature.startswith("title_"):
        return f"title {feature.removeprefix('title_').replace('_', ' ')}" if value == 1 else None
    if feature == "tier_rank":
        return "lower-grade hospital" if value <= 2 else None
    if feature.startswith("type_"):
        return f"{feature.removeprefix('type_')}" if value == 1 else None
    return None


def churn_reasons(contributions: pd.DataFrame, features: pd.DataFrame, *, level: str = "doctor",
                  n_reasons: int = 3, min_contribution: float = 0.05) -> pd.Series:
    """The top ``n_reasons`` reasons in words, from the features that raised the risk most.

    Parameters
    ----------
    contributions : DataFrame
        Log-odds contributions per entity and feature (``feature_contributions``).
    features : DataFrame
        The feature values, same index and columns.

    Examples
    --------
    >>> c = pd.DataFrame({"months_since_visit": [1.2], "decline_run": [0.8], "tier_rank": [0.0]}, index=["D1"])
    >>> f = pd.DataFrame({"months_since_visit": [2.0], "decline_run": [3.0], "tier_rank": [4.0]}, index=["D1"])
    >>> churn_reasons(c, f).iloc[0]
    'no visit for 9 weeks; prescriptions down 3 months running'
    """
    out = []
    values = features.to_numpy(float)
    contrib = contributions[features.columns].to_numpy(float)
    names = list(features.columns)
    for i in range(len(features)):
        order = np.argsort(-contrib[i], kind="stable")
        words = []
        for j in order:
            if contrib[i, j] < min_contribution or len(words) >= n_reasons:
                break
            phrase = _phrase(names[j], values[i, j], level)
            if phrase and phrase not in words:
                words.append(phrase)
        out.append("; ".join(words))
    return pd.Series(out, index=features.index, name="reasons")


def churn_tables(scores: pd.DataFrame, reasons: pd.Series, *, alert_threshold: float = 0.3,
                 decimals: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``scores`` (every active entity) and ``alerts`` (risk ≥ threshold, by risk × volume at stake).

    Examples
    --------
    >>> s = pd.DataFrame({"entity_id": ["a", "b"], "risk": [0.9, 0.1], "p_alive": [0.2, 0.9],
    ...     "expected_transactions": [0.1, 2.0], "volume_at_stake": [30.0, 50.0]})
    >>> scores, alerts = churn_tables(s, pd.Series(["x", "y"], index=["a", "b"]))
    >>> alerts["entity_id"].tolist()
    ['a']
    """
    table = scores[["entity_id", "risk", "p_alive", "expected_transactions", "volume_at_stake"]].copy()
    table["reasons"] = reasons.reindex(table["entity_id"]).fillna("").to_numpy()
    table = table.sort_values(["risk", "entity_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    numeric = ["risk", "p_alive", "expected_transactions", "volume_at_stake"]
    table[numeric] = table[numeric].round(decimals)
    alerts = table[table["risk"] >= alert_threshold].copy()
    alerts["risk_x_volume"] = (alerts["risk"] * alerts["volume_at_stake"]).round(decimals)
    alerts = alerts.sort_values(["risk_x_volume", "entity_id"], ascending=[False, True],
                                kind="stable").reset_index(drop=True)
    return table, alerts


def gain_table(y, risk, n_bins: int = 10) -> pd.DataFrame:
    """Cumulative gain and lift by decile of risk (highest first).

    Examples
    --------
    >>> g = gain_table([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], n_bins=2)
    >>> g["cumulative_gain"].tolist()
    [1.0, 1.0]
    """
    y = np.asarray(y, float)
    order = np.argsort(-np.asarray(risk, float), kind="stable")
    y_sorted = y[order]
    cuts = np.linspace(0, len(y), n_bins + 1).round().astype(int)[1:]
    total = max(y.sum(), 1e-12)
    share = cuts / len(y)
    gain = np.array([y_sorted[:c].sum() for c in cuts]) / total
    return pd.DataFrame({"share_contacted": share, "cumulative_gain": gain,
                         "lift": np.where(share > 0, gain / share, np.nan)})


def plot_gain(backtest, ax=None):
    """Cumulative gain of every model of the backtest on the evaluation snapshot."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4))[1]
    y = backtest.scores["churned"]
    for name in backtest.metrics.index:
        g = gain_table(y, backtest.scores[name], n_bins=20)
        ax.plot(np.r_[0, g["share_contacted"]], np.r_[0, g["cumulative_gain"]], label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set(xlabel="share of entities contacted (highest risk first)", ylabel="share of churners reached",
           title="Gain chart (backtest)")
    ax.legend(fontsize=8)
    return ax


def plot_calibration(backtest, model: str, n_bins: int = 10, ax=None):
    """Observed churn rate against predicted risk, by quantile bins of risk."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5, 4))[1]
    risk = backtest.scores[model].to_numpy()
    y = backtest.scores["churned"].to_numpy(float)
    bins = pd.qcut(pd.Series(risk).rank(method="first"), n_bins, labels=False)
    frame = pd.DataFrame({"bin": bins, "risk": risk, "y": y}).groupby("bin").mean()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.plot(frame["risk"], frame["y"], marker="o")
    ax.set(xlabel="predicted risk", ylabel="observed churn rate", title=f"Calibration ({model})")
    return ax


def plot_retention(curves: pd.DataFrame, title: str, ax=None):
    """Kaplan–Meier retention curves by group, with their 95% bands."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, g in curves.groupby("group", sort=True):
        ax.step(g["month"], g["retention"], where="post", label=f"{name} (n={g['n'].iat[0]})")
        ax.fill_between(g["month"], g["ci_low"], g["ci_high"], step="post", alpha=0.15)
    ax.set(xlabel="months since first volume", ylabel="share not lapsed", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_risk_by_group(table: pd.DataFrame, title: str = "Expected volume lost by territory", ax=None):
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4))[1]
    top = table.head(20)
    ax.barh(top.index.astype(str)[::-1], top["expected_loss"].to_numpy()[::-1])
    ax.set(xlabel="expected volume lost in the horizon (risk × volume at stake)", title=title)
    return ax


def comparison_table(summary: dict) -> pd.DataFrame:
    """The chosen model against the best rule per backtest subset (from ``summary.json``).

    Examples
    --------
    >>> s = {"backtest": {"chosen_vs_best_rule": {"all_active": {"chosen": "boosting", "best_rule": "r",
    ...     "chosen_roc_auc": 0.9, "best_rule_roc_auc": 0.8, "roc_auc_difference": 0.1}}}}
    >>> comparison_table(s).loc["all_active", "roc_auc_difference"]
    np.float64(0.1)
    """
    table = pd.DataFrame(summary["backtest"]["chosen_vs_best_rule"]).T
    table.index.name = "subset"
    numeric = [c for c in table.columns if c not in ("chosen", "best_rule")]
    table[numeric] = table[numeric].astype(float).round(3) + 0.0  # no "-0"
    return table


def backtest_note(result) -> str:
    """Why a backtest ran or not, in words with its numbers, and what that means for trust.

    ``result`` is a :class:`crmlab.analyses.churn.ChurnResult`.
    """
    status, params = result.backtest_status, result.params
    if status["ran"]:
        return (f"Backtest on {status['origins']} monthly training origin(s) before "
                f"{result.backtest.eval_origin.date()}, compared with what happened by {result.as_of.date()}: "
                f"the ranking of '{result.backtest.chosen}' was tested on outcomes it had not seen.")
    bgnbd = result.scored.bgnbd
    model = (f"the BG/NBD probability of no purchase over the {params.horizon_months}-month horizon, "
             f"fitted on {bgnbd.n_customers_} {params.level}s' purchase occasions by {result.scored.time_unit}"
             if bgnbd is not None else "the last-month rule (too few buyers for the BG/NBD)")
    return (f"No backtest ran: it needs {status['months_needed']} months of history up to as_of "
            f"({params.active_months}-month activity window + 2 × {params.horizon_months}-month horizon, one to "
            f"label training snapshots and one to compare with what happened); the data hold "
            f"{status['months_available']}. The risk is {model}; the reasons come from the purchase gaps and the rules (recency, "
            f"last month against the average, decline). Nothing here was checked against outcomes, so read "
            f"the ranking as the model's view of the purchase history, not a tested forecast. Its levels (risk, "
            f"expected purchases) hold as far as buyers behave as the BG/NBD assumes (Poisson purchases, "
            f"dropout only right after a purchase): on regular reorders with dropout in calendar time, "
            f"crmlab's tests measured the ranking as good as days since the last purchase (ROC AUC 0.95-0.98) "
            f"but expected purchases 17-38% too high.")


def bgnbd_check_note(check: dict | None) -> str:
    """The BG/NBD holdout check in one sentence.

    Examples
    --------
    >>> bgnbd_check_note({"calibration_end": "1997-09-30", "holdout_end": "1998-06-30", "customers": 2357,
    ...     "time_unit": "day", "expected_occasions": 1700.0, "actual_occasions": 1800, "ratio": 0.944})
    'Fitted on 2357 purchase histories up to 1997-09-30, the BG/NBD expected about 1,700 purchase occasions (by day) up to 1998-06-30; 1,800 happened (ratio 0.94).'
    >>> bgnbd_check_note(None)[:30]
    'The history is too short to ch'
    """
    if not check:
        return ("The history is too short to check the BG/NBD against a later horizon "
                "(it needs a horizon of data before as_of).")
    ratio = "" if check["ratio"] is None else f" (ratio {check['ratio']:.2f})"
    # two significant digits: the fit's last digits depend on the optimiser and BLAS
    expected = int(float(f"{check['expected_occasions']:.2g}"))
    return (f"Fitted on {check['customers']} purchase histories up to {check['calibration_end']}, the BG/NBD "
            f"expected about {expected:,} purchase occasions (by {check['time_unit']}) up to "
            f"{check['holdout_end']}; {check['actual_occasions']:,} happened{ratio}.")


def metrics_table(result) -> pd.DataFrame:
    """The backtest metrics by subset and model, rounded for display (empty without a backtest)."""
    table = result.metrics_by_subset
    if not len(table):
        return table
    columns = ["roc_auc", "roc_auc_ci_low", "roc_auc_ci_high", "pr_auc", "precision_top_k", "brier",
               "lift_over_best_rule", "n", "churned"]
    return table[columns].round(3)


def bgnbd_table(result) -> pd.DataFrame:
    """BG/NBD estimates with their intervals at 3 significant digits, and the unit of time."""
    model = result.scored.bgnbd
    if model is None:
        return pd.DataFrame()
    table = model.summary()[["estimate", "std_error", "ci_low", "ci_high"]].astype(float)
    table = table.apply(lambda column: column.map(lambda v: float(f"{v:.3g}") if np.isfinite(v) else v))
    table["time_unit"] = result.scored.time_unit
    return table


def key_findings(result) -> str:
    """The report's opening: what was found, in words and numbers from the result."""
    s = result.summary()
    counts, definition, level = s["counts"], s["definition"], s["definition"]["level"]
    lines = [f"As of {definition['as_of']}, {counts['active']:,} of {counts['entities']:,} {level}s are active; "
             f"{counts['alerts']:,} are on the alert list (risk ≥ {counts['alert_threshold']}), with "
             f"{counts['volume_at_stake_alerts']:,.0f} units at stake over the next {definition['horizon_months']} "
             f"months. Expected churners: {counts['expected_churners']:,.1f}."]
    if result.backtest is not None:
        bt = result.backtest
        m = bt.metrics
        chosen, rule = bt.chosen, bt.best_rule
        line = (f"The backtest chose {chosen}: ROC AUC {m.loc[chosen, 'roc_auc']:.2f} (95% CI "
                f"{m.loc[chosen, 'roc_auc_ci_low']:.2f}–{m.loc[chosen, 'roc_auc_ci_high']:.2f}) against "
                f"{m.loc[rule, 'roc_auc']:.2f} for the best rule ({rule}), on {int(m['n'].iat[0]):,} {level}s "
                f"of which {int(m['churned'].iat[0]):,} churned, over {s['backtest']['origins']} training origin(s).")
        lines.append(line if np.isfinite(m.loc[chosen, "roc_auc"]) else s["backtest"]["note"])
    else:
        lines.append(s["backtest"]["note"])
    lines.append(bgnbd_check_note(result.bgnbd_check))
    lines.extend(s["notes"])
    return "\n".join(f"- {line}" for line in lines)
