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


def risk_by_group(scores: pd.DataFrame, groups: pd.Series, *, alert_threshold: float = 0.3) -> pd.DataFrame:
    """Entities, alerts, mean risk and expected volume lost (risk × volume at stake) per group."""
    g = groups.reindex(scores["entity_id"]).astype("string").fillna("unknown").to_numpy()
    frame = scores.assign(group=g, alert=scores["risk"] >= alert_threshold,
                          expected_loss=scores["risk"] * scores["volume_at_stake"])
    out = frame.groupby("group").agg(entities=("entity_id", "size"), alerts=("alert", "sum"),
                                     mean_risk=("risk", "mean"), expected_loss=("expected_loss", "sum"))
    return out.sort_values("expected_loss", ascending=False).round(3)


def plot_risk_by_group(table: pd.DataFrame, title: str = "Expected volume lost by territory", ax=None):
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4))[1]
    top = table.head(20)
    ax.barh(top.index.astype(str)[::-1], top["expected_loss"].to_numpy()[::-1])
    ax.set(xlabel="expected volume lost in the horizon (risk × volume at stake)", title=title)
    return ax


def _beats(metrics: pd.DataFrame, chosen: str, best_rule: str) -> dict:
    """The chosen model against the best rule on one subset: AUCs and their difference."""
    if not chosen or not best_rule or chosen not in metrics.index or best_rule not in metrics.index:
        return {"chosen": chosen, "best_rule": best_rule, "roc_auc_difference": None}
    a, b = metrics.loc[chosen, "roc_auc"], metrics.loc[best_rule, "roc_auc"]
    return {"chosen": chosen, "best_rule": best_rule, "chosen_roc_auc": round(float(a), 4),
            "best_rule_roc_auc": round(float(b), 4), "roc_auc_difference": round(float(a - b), 4),
            "chosen_pr_auc": round(float(metrics.loc[chosen, "pr_auc"]), 4),
            "best_rule_pr_auc": round(float(metrics.loc[best_rule, "pr_auc"]), 4)}


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


class ChurnReport:
    """Everything the churn notebook shows: definition, backtest, scores, alerts, curves."""

    def __init__(self, **parts):
        self.__dict__.update(parts)


def churn_analysis(tables, *, level: str = "doctor", product_id=None, as_of: str | None = "",
                   active_months: int = 6, min_active_months: int = 3, horizon_months: int = 3,
                   churn_share: float = 0.0, train_origins: int = 12, alert_threshold: float = 0.3,
                   top_k: int = 20, seed: int = 7, max_train_rows: int | None = 300_000) -> ChurnReport:
    """Run the churn early warning end to end: backtest, choose, score, explain.

    Parameters are those of ``params/churn.yaml``. Nothing dated after ``as_of`` is read.
    At large scale (more than ``max_train_rows`` training snapshots, e.g. national data)
    the learned models are trained on a seeded subsample of whole entities; the summary
    says so (``training``) and every active entity is still scored.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> report = churn_analysis(simulate("sample", seed=1).tables)  # doctest: +SKIP
    >>> report.summary["chosen_model"]  # doctest: +SKIP
    'boosting'
    """
    from crmlab.features.churn import churn_history, default_as_of, own_product_ids
    from crmlab.models.churn import churn_backtest, lapse_durations, retention_curves, score_churn

    as_of_date = default_as_of(tables, level) if not as_of else pd.Timestamp(as_of)
    history = churn_history(tables, level=level, product_id=product_id, as_of=as_of_date)
    t = history.month_index(as_of_date)
    kw = dict(horizon_months=horizon_months, active_months=active_months, min_active_months=min_active_months,
              churn_share=churn_share, train_origins=train_origins, max_train_rows=max_train_rows or None)
    backtest = churn_backtest(history, t, top_k=top_k, seed=seed, **kw)
    scored = score_churn(history, t, model=backtest.chosen, seed=seed, **kw)
    reasons = churn_reasons(scored.contributions, scored.features, level=level)
    scores, alerts = churn_tables(scored.scores, reasons, alert_threshold=alert_threshold)
    id_name = f"{level}_id"
    territory = pd.Series(history.territory, index=history.entity_ids)
    by_territory = risk_by_group(scored.scores, territory, alert_threshold=alert_threshold)
    by_territory.index.name = "territory_id"
    durations = lapse_durations(history, t, horizon_months=horizon_months)
    static = history.static
    grade = (static["tier_rank"].map({5.0: "3A", 4.0: "3B", 3.0: "2A", 2.0: "2B", 1.0: "1", 0.0: "none"})
             if "tier_rank" in static else pd.Series("all", index=history.entity_ids))
    early = history.volume[:, :min(6, t + 1)].mean(axis=1)
    segment = pd.Series(pd.qcut(pd.Series(early).rank(method="first"), 3, labels=["low", "mid", "high"])
                        .astype(str).to_numpy(), index=history.entity_ids)
    curves = {"grade": retention_curves(durations, grade), "segment": retention_curves(durations, segment)}
    metrics = backtest.metrics.drop(columns="kind").round(4)
    hard = backtest.subset_metrics["still_active_last_month"]
    metrics_hard = hard.drop(columns=["kind", "best_rule"]).round(4)
    beats = {name: {**_beats(table, backtest.chosen, rule),
                    **{f"roc_auc_difference_{k}": round(v, 4) for k, v in
                       backtest.comparison.get(name, {}).items() if k in ("ci_low", "ci_high", "p_value")}}
             for name, table, rule in (("all_active", backtest.metrics, backtest.best_rule),
                                       ("still_active_last_month", hard,
                                        hard["best_rule"].iat[0] if len(hard) else ""))}
    summary = {
        "definition": {"level": level, "volume_source": history.source,
                       "product_id": own_product_ids(tables, product_id), "as_of": str(as_of_date.date()),
                       "active_months": active_months, "min_active_months": min_active_months,
                       "horizon_months": horizon_months, "churn_share": churn_share,
                       "churn": "zero volume in the horizon" if churn_share <= 0 else
                                f"horizon volume below {churn_share} x trailing 6-month average"},
        "counts": {"entities": int(len(history.entity_ids)), "active": int(len(scores)),
                   "alerts": int(len(alerts)), "alert_threshold": alert_threshold,
                   "expected_churners": round(float(scores["risk"].sum()), 3),
                   "volume_at_stake_alerts": round(float(alerts["volume_at_stake"].sum()), 3)},
        "backtest": {"train_origins": [str(m.date()) for m in backtest.train_origins],
                     "eval_origin": str(backtest.eval_origin.date()), "top_k": top_k,
                     "metrics": metrics.reset_index().to_dict(orient="records"),
                     "metrics_still_active_last_month": metrics_hard.reset_index().to_dict(orient="records"),
                     "subsets": {"all_active": "every entity active at the evaluation origin",
                                 "still_active_last_month": "active and with volume in the origin's month "
                                                            "(not yet at zero when scored)"},
                     "chosen_vs_best_rule": beats, "notes": backtest.notes},
        "training": {"rows_used": backtest.train_rows, "rows_available": backtest.train_rows_available,
                     "subsampled": backtest.train_rows < backtest.train_rows_available,
                     "max_train_rows": max_train_rows},
        "chosen_model": backtest.chosen, "best_rule": backtest.best_rule, "scored_with": scored.model_name,
        "bgnbd": None if scored.bgnbd is None else scored.bgnbd.summary()[["estimate", "std_error"]]
        .round(4).to_dict(orient="index"),
    }
    return ChurnReport(summary=summary, backtest=backtest, metrics=metrics, metrics_hard=metrics_hard,
                       metrics_by_subset=pd.concat({"all_active": metrics, "still_active_last_month": metrics_hard},
                                                   names=["subset", "model"]), scored=scored,
                       scores=scores.rename(columns={"entity_id": "entity_id"}), alerts=alerts,
                       by_territory=by_territory, curves=curves, history=history, id_name=id_name,
                       as_of=as_of_date)
