"""Churn early warning: reasons in words, the score and alert tables, plots.

Tables carry entity IDs only; doctor names never appear.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.reporting import style

# feature -> phrase(value, level); only features whose value raised the risk are worded
_VOLUME_WORD = {"doctor": "prescriptions", "account": "sales"}

#: Features a rep or manager can act on (visits, colleagues lapsing, events): their
#: reasons come first. The data contract's competitor products are not a churn feature
#: yet, so no competitor reason is given.
ACTIONABLE = ("months_since_visit", "visits_3m", "visit_trend", "remote_share_6m", "peers_lapsing",
              "peer_lapsing_share", "events_12m")


def plural(n: float, word: str, words: str | None = None) -> str:
    """``n`` with its noun in the right number.

    Examples
    --------
    >>> plural(1, "month"), plural(2, "month"), plural(0, "visit"), plural(1, "peer", "peers")
    ('1 month', '2 months', '0 visits', '1 peer')
    """
    n = int(n)
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _phrase(feature: str, value: float, level: str) -> str | None:
    word = _VOLUME_WORD.get(level, "volume")
    peer, peers, place = ("peer", "peers", "this account") if level == "doctor" else \
        ("account", "accounts", "this territory")
    if feature == "days_since_purchase":
        return f"no purchase for {plural(round(value), 'day')}"
    if feature == "usual_gap_days":
        return None if np.isnan(value) else f"usually every {plural(round(value), 'day')}"
    if feature == "months_since_visit":
        return f"not visited for {plural(value, 'month')}" if value >= 1 else None
    if feature == "decline_run":
        return f"{word} down {plural(value, 'month')} running" if value >= 1 else None
    if feature == "recency_months":
        return f"no {word} for {plural(value, 'month')}" if value >= 1 else f"{word} still running"
    if feature in ("peers_lapsing", "peer_lapsing_share"):
        if value <= 0:
            return None
        if feature == "peer_lapsing_share":
            return f"{value:.0%} of {peers} in {place} lapsing"
        return f"{plural(value, peer, peers)} in {place} lapsing"
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
    # the actionable features are worded only when they point to an action (a model may
    # raise the risk for a rise in visits, which is no advice a rep can follow)
    if feature == "visits_3m":
        return f"only {plural(value, 'visit')} in 3 months" if value <= 1 else None
    if feature == "visit_trend":
        return f"visits down by {abs(int(value))} on the quarter before" if value < 0 else None
    if feature == "remote_share_6m":
        return f"{value:.0%} of visits remote" if value >= 0.5 else None
    if feature == "events_12m":
        return "no event attended in 12 months" if value == 0 else None
    if feature.startswith("title_"):
        return f"title {feature.removeprefix('title_').replace('_', ' ')}" if value == 1 else None
    if feature == "tier_rank":
        return "lower-grade hospital" if value <= 2 else None
    if feature.startswith("type_"):
        return f"{feature.removeprefix('type_')}" if value == 1 else None
    return None


def churn_reasons(contributions: pd.DataFrame, features: pd.DataFrame, *, level: str = "doctor",
                  n_reasons: int = 3, min_contribution: float = 0.05) -> pd.Series:
    """Up to ``n_reasons`` reasons in words, actionable ones first.

    The reasons come from the features that raised the model's risk by at least
    ``min_contribution`` (log-odds). Among them, those a rep can act on
    (:data:`ACTIONABLE`: not visited, visits down, colleagues lapsing, events missed)
    come first, then the descriptive trend ones, each group by contribution.

    Parameters
    ----------
    contributions : DataFrame
        Log-odds contributions per entity and feature (``feature_contributions``).
    features : DataFrame
        The feature values, same index and columns.

    Examples
    --------
    >>> c = pd.DataFrame({"months_since_visit": [0.6], "decline_run": [0.8], "tier_rank": [0.0]}, index=["D1"])
    >>> f = pd.DataFrame({"months_since_visit": [2.0], "decline_run": [3.0], "tier_rank": [4.0]}, index=["D1"])
    >>> churn_reasons(c, f).iloc[0]
    'not visited for 2 months; prescriptions down 3 months running'
    """
    out = []
    values = features.to_numpy(float)
    contrib = contributions[features.columns].to_numpy(float)
    names = list(features.columns)
    actionable = np.array([name in ACTIONABLE for name in names])
    for i in range(len(features)):
        # actionable first (stable sort keeps the contribution order within each group)
        order = np.argsort(-contrib[i], kind="stable")
        order = order[contrib[i, order] >= min_contribution]
        order = np.concatenate([order[actionable[order]], order[~actionable[order]]])
        words = []
        for j in order:
            if len(words) >= n_reasons:
                break
            phrase = _phrase(names[j], values[i, j], level)
            if phrase and phrase not in words:
                words.append(phrase)
        out.append("; ".join(words))
    return pd.Series(out, index=features.index, name="reasons")


SCORE_COLUMNS = ["entity_id", "risk", "p_alive", "expected_transactions", "volume_at_stake", "reasons"]
LIST_COLUMNS = ["entity_id", "region", "territory_id", "risk", "risk_model", "p_alive", "volume_at_stake",
                "risk_x_volume", "months_without_volume", "reasons"]


def churn_tables(scores: pd.DataFrame, reasons: pd.Series, *, alert_threshold: float = 0.3,
                 recency: pd.Series | None = None, places: pd.DataFrame | None = None,
                 win_back_months: int = 2, risk_model: str = "", p_alive_suits: bool = False,
                 decimals: int = 4) -> dict[str, pd.DataFrame]:
    """``scores`` (every active entity) and the two alert lists a manager acts on.

    - ``win_back``: at or above ``alert_threshold`` and no volume for the last
      ``win_back_months`` months (or more): already lost, to be won back;
    - ``early_warning``: at or above the threshold and still prescribing or buying.

    Each list is ranked by risk × volume at stake, with the region and territory, the
    model that gave the risk (``risk_model``) and ``p_alive`` only where it means
    something: when the BG/NBD suits the data (``p_alive_suits``: irregular purchase
    occasions, dated by day or week) and never on a row where it contradicts the risk
    (both at least 0.5). No names: entity IDs only.

    Parameters
    ----------
    recency : Series, optional
        Months without volume up to as_of, by entity_id (0 = volume in the last month).
    places : DataFrame, optional
        ``region`` and ``territory_id`` indexed by entity_id.

    Examples
    --------
    >>> s = pd.DataFrame({"entity_id": ["a", "b"], "risk": [0.9, 0.1], "p_alive": [0.2, 0.9],
    ...     "expected_transactions": [0.1, 2.0], "volume_at_stake": [30.0, 50.0]})
    >>> t = churn_tables(s, pd.Series(["x", "y"], index=["a", "b"]), recency=pd.Series({"a": 3, "b": 0}))
    >>> t["win_back"]["entity_id"].tolist(), len(t["early_warning"])
    (['a'], 0)
    """
    table = scores[SCORE_COLUMNS[:-1]].copy()
    table["reasons"] = reasons.reindex(table["entity_id"]).fillna("").to_numpy()
    table = table.sort_values(["risk", "entity_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    numeric = ["risk", "p_alive", "expected_transactions", "volume_at_stake"]
    table[numeric] = table[numeric].round(decimals)
    alerts = table[table["risk"] >= alert_threshold].copy()
    ids = alerts["entity_id"]
    places = pd.DataFrame(columns=["region", "territory_id"]) if places is None else places
    for column in ("region", "territory_id"):
        alerts[column] = (places[column].reindex(ids).to_numpy() if column in places
                          else np.full(len(alerts), None, dtype=object))
    alerts["risk_model"] = risk_model
    contradicts = (alerts["risk"] >= 0.5) & (alerts["p_alive"] >= 0.5)
    alerts["p_alive"] = alerts["p_alive"].where(p_alive_suits & ~contradicts)
    months = (pd.Series(0.0, index=ids) if recency is None else recency.reindex(ids).fillna(0.0))
    alerts["months_without_volume"] = months.to_numpy().astype(int)
    alerts["risk_x_volume"] = (alerts["risk"] * alerts["volume_at_stake"]).round(decimals)
    alerts = alerts.sort_values(["risk_x_volume", "entity_id"], ascending=[False, True], kind="stable")
    lost = alerts["months_without_volume"] >= win_back_months
    return {"scores": table,
            "win_back": alerts.loc[lost, LIST_COLUMNS].reset_index(drop=True),
            "early_warning": alerts.loc[~lost, LIST_COLUMNS].reset_index(drop=True)}


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
    ax.plot([0, 1], [0, 1], color=style.MUTED, linestyle=":", label="random")
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
    ax.plot([0, 1], [0, 1], color=style.MUTED, linestyle=":")
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


def data_period(result) -> str:
    """Activity window to as_of, e.g. "2025-07 to 2025-12 (as of 2025-12-31)"."""
    definition = result.summary()["definition"]
    as_of = pd.Timestamp(definition["as_of"])
    start = as_of - pd.DateOffset(months=result.params.active_months - 1)
    return f"{start:%Y-%m} to {as_of:%Y-%m} (as of {as_of.date()})"


def notes(result) -> list[str]:
    """The analysis' notes on its fits (shown after the key findings)."""
    return list(result.summary()["notes"])


def key_findings(result) -> list[str]:
    """The report's opening: what was found and whom to call, in 6 sentences from the result."""
    s = result.summary()
    counts, definition, level = s["counts"], s["definition"], s["definition"]["level"]
    volume = "prescriptions" if definition["volume_source"] == "prescriptions" else "units"
    lines = [f"As of {definition['as_of']}, {counts['active']:,} of {counts['entities']:,} {level}s are active; "
             f"{counts['alerts']:,} have a risk of at least {counts['alert_threshold']} (expected churners over "
             f"all active: {counts['expected_churners']:,.1f})."]
    lines.append(f"Early warning: {plural(counts['early_warning'], level)} still active are at risk, "
                 f"{counts['volume_at_stake_early_warning']:,.0f} {volume} at stake over the next "
                 f"{plural(definition['horizon_months'], 'month')}; {counts['early_warning_not_visited']:,} of "
                 f"them have not been visited for a month or more"
                 + (": call those first." if counts["early_warning_not_visited"] else "."))
    lines.append(f"Win-back: {plural(counts['win_back'], level)} had no volume for "
                 f"{plural(result.params.win_back_months, 'month')} or more "
                 f"({counts['volume_at_stake_win_back']:,.0f} {volume} at stake): a win-back visit, not a reminder.")
    lines.append(f"The risk comes from the {s['scored_with']} model; "
                 + ("p_alive (BG/NBD) is shown where it does not contradict the risk."
                    if s["p_alive_shown"] else
                    "p_alive is not shown: the BG/NBD suits irregular purchases dated by day or week, "
                    "not monthly volumes."))
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
    return lines


def alert_list(table: pd.DataFrame, rows: int = 15) -> pd.DataFrame:
    """The first ``rows`` of an alert list for display: without columns that are empty throughout.

    Examples
    --------
    >>> t = pd.DataFrame({"entity_id": ["a"], "risk": [0.9], "p_alive": [float("nan")]})
    >>> list(alert_list(t))
    ['entity_id', 'risk']
    """
    return table.head(rows).dropna(axis=1, how="all") if len(table) else table
