"""Scoring the active entities as of ``as_of``: risk, probability alive, reasons.

With a backtest, the model it chose is refitted on every outcome known by ``as_of``.
Without one (a short history), the risk is the BG/NBD probability of no purchase over
the horizon, which needs no churn labels, and the reasons come from the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from crmlab.distributed import map_rows
from crmlab.features.churn import TIME_UNITS, ChurnHistory, churn_frame, horizon_length, rfm_at
from crmlab.models.churn.backtest import feature_columns, subsample_snapshots, training_origins
from crmlab.models.churn.bgnbd import BetaGeoModel
from crmlab.models.churn.classifiers import LEARNED, RULES, RuleScore, fit_model, make_model, predict_risk

#: The probability-alive model as a churn score (no training labels needed).
BGNBD = "bgnbd"
#: Fewest customers with a purchase to fit the BG/NBD on.
MIN_BUYERS = 10


def feature_contributions(model, X: pd.DataFrame, reference: pd.Series, *,
                          batch_rows: int = 1_000_000) -> pd.DataFrame:
    """Each feature's contribution to the log-odds of churn, by occlusion.

    ``contribution_j = logit p(x) − logit p(x with x_j set to its reference value)``:
    positive = the feature's value raises the risk above that of a typical entity.
    Model-agnostic, so the reasons follow whichever model the backtest chose. The
    occluded copies of several features are stacked and scored in one call (up to
    ``batch_rows`` rows), which saves the per-call overhead of the model on small data
    and bounds memory on large data.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(-2 * X["a"]))
    >>> from crmlab.models.churn.classifiers import ChurnClassifier
    >>> m = ChurnClassifier("logistic").fit(X, y)
    >>> c = feature_contributions(m, X, X.median())
    >>> bool(c["a"].abs().mean() > c["b"].abs().mean())
    True
    """
    eps = 1e-6
    n = len(X)
    base = special.logit(np.clip(predict_risk(model, X), eps, 1 - eps))
    out = {column: np.zeros(n) for column in X.columns}
    values = X.to_numpy(dtype=float)
    # a row already at the reference value is its own occluded copy: its contribution is 0
    rows = {c: np.flatnonzero(values[:, j] != reference[c]) for j, c in enumerate(X.columns)}
    varying = [c for c in X.columns if len(rows[c])]
    positions = {c: X.columns.get_loc(c) for c in X.columns}
    per_batch = max(1, batch_rows // max(n, 1))
    for start in range(0, len(varying), per_batch):
        chunk = varying[start:start + per_batch]
        stacked = np.concatenate([values[rows[column]] for column in chunk])
        at = np.cumsum([0, *(len(rows[column]) for column in chunk)])
        for i, column in enumerate(chunk):
            stacked[at[i]:at[i + 1], positions[column]] = reference[column]
        risk = predict_risk(model, pd.DataFrame(stacked, columns=X.columns))
        for i, column in enumerate(chunk):
            occluded = special.logit(np.clip(risk[at[i]:at[i + 1]], eps, 1 - eps))
            out[column][rows[column]] = base[rows[column]] - occluded
    return pd.DataFrame(out, index=X.index)


def rule_contributions(X: pd.DataFrame) -> pd.DataFrame:
    """How far each rule feature points to churn, for the reasons when no model was trained.

    Months without volume, the fall of last month against the average, the 3-month
    decline and the run of monthly declines, each scaled to about one at a clear
    warning sign; zero where the feature points away from churn.

    Examples
    --------
    >>> X = pd.DataFrame({"recency_months": [2.0], "last_to_12m": [0.2], "trend_3m": [-0.7],
    ...                   "decline_run": [0.0]})
    >>> rule_contributions(X).round(2).iloc[0].tolist()
    [1.0, 0.8, 0.7, 0.0]
    """
    out = pd.DataFrame(index=X.index)
    out["recency_months"] = X["recency_months"].clip(lower=0) / 2
    out["last_to_12m"] = (1 - X["last_to_12m"]).clip(lower=0)
    out["trend_3m"] = (-X["trend_3m"]).clip(lower=0)
    out["decline_run"] = X["decline_run"].clip(lower=0) / 3
    return out


def purchase_gaps(rfm: pd.DataFrame, unit_days: float) -> pd.DataFrame:
    """Days since each entity's last purchase and its usual days between purchases.

    ``rfm`` is :func:`~crmlab.features.churn.rfm_at` in a unit of ``unit_days`` days; the
    usual gap is NaN for an entity with a single purchase occasion.

    Examples
    --------
    >>> rfm = pd.DataFrame({"frequency": [2.0, 0.0], "recency": [40.0, 0.0], "T": [100.0, 30.0]})
    >>> purchase_gaps(rfm, 1.0).to_numpy().tolist()
    [[60.0, 20.0], [30.0, nan]]
    """
    silence = (rfm["T"] - rfm["recency"]) * unit_days
    gap = (rfm["recency"] / rfm["frequency"].where(rfm["frequency"] > 0)) * unit_days
    return pd.DataFrame({"days_since_purchase": silence.to_numpy(), "usual_gap_days": gap.to_numpy()},
                        index=rfm.index)


def gap_contributions(gaps: pd.DataFrame) -> pd.DataFrame:
    """A silence longer than the usual gap as a warning sign, for the reasons in words.

    ``silence / usual gap − 1`` (zero when within the usual gap or with one purchase);
    the usual gap gets a hair less, so that it is worded right after the silence.

    Examples
    --------
    >>> gaps = pd.DataFrame({"days_since_purchase": [60.0, 10.0], "usual_gap_days": [20.0, 20.0]})
    >>> gap_contributions(gaps).round(2).to_numpy().tolist()
    [[2.0, 1.99], [0.0, 0.0]]
    """
    ratio = (gaps["days_since_purchase"] / gaps["usual_gap_days"] - 1).clip(lower=0).fillna(0.0)
    return pd.DataFrame({"days_since_purchase": ratio, "usual_gap_days": (ratio - 0.01).clip(lower=0)})


@dataclass
class ChurnScores:
    """Scores of the active entities as of ``as_of``.

    Attributes
    ----------
    scores : DataFrame
        entity_id, risk, p_alive, expected_transactions (over the horizon, in purchase
        occasions), volume_at_stake.
    contributions, features : DataFrame
        Per entity: each feature's contribution to the risk, and its value (the reasons).
    model : object
        The fitted model behind ``risk``.
    bgnbd : BetaGeoModel or None
    model_name : str
        ``boosting``, ``logistic``, ``cox``, a rule, or ``bgnbd``.
    time_unit : str
        Unit of the BG/NBD times (``day``, ``week``, ``month``).
    horizon_units : float
        The horizon in ``time_unit``.
    """

    scores: pd.DataFrame
    contributions: pd.DataFrame
    features: pd.DataFrame
    model: object
    bgnbd: BetaGeoModel | None
    model_name: str
    time_unit: str = "month"
    horizon_units: float = float("nan")


def fit_bgnbd(history: ChurnHistory, as_of, *, time_unit: str = "month") -> BetaGeoModel | None:
    """The BG/NBD fitted on every entity's purchase occasions up to ``as_of`` (None if < 10 buyers).

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.churn import churn_history
    >>> h = churn_history(simulate("sample", seed=1).tables)
    >>> fit_bgnbd(h, "2025-06-30").n_customers_
    300
    """
    buyers = rfm_at(history, as_of, time_unit=time_unit).dropna()
    return BetaGeoModel().fit(buyers) if len(buyers) >= MIN_BUYERS else None


def risk_and_reasons(X: pd.DataFrame, model, reference: pd.Series) -> tuple[np.ndarray, pd.DataFrame]:
    """The fitted model's risk for each row of ``X`` and the features' contributions to it.

    Row by row: the rows of ``X`` may be scored in any grouping (a cluster scores them by
    partition, :func:`crmlab.distributed.map_rows`) with the same result.
    """
    return predict_risk(model, X), feature_contributions(model, X, reference)


def _joined(parts: list[tuple[np.ndarray, pd.DataFrame]]) -> tuple[np.ndarray, pd.DataFrame]:
    return np.concatenate([risk for risk, _ in parts]), pd.concat([c for _, c in parts])


def score_churn(history: ChurnHistory, as_of_index: int, *, model: str = "boosting", horizon_months: int = 3,
                active_months: int = 6, min_active_months: int = 3, train_origins: int = 12,
                churn_share: float = 0.0, seed: int = 0, max_train_rows: int | None = None,
                time_unit: str = "month", as_of=None) -> ChurnScores:
    """Score the entities active at month ``as_of_index``.

    ``model`` is refitted on every outcome known by ``as_of`` (with ``max_train_rows``,
    on a seeded subsample of whole entities, as in the backtest; every active entity is
    still scored). ``model="bgnbd"`` needs no outcomes: risk = the BG/NBD probability of
    no purchase over the horizon, reasons from the rules. With no churn among the known
    outcomes a learned model falls back to the last-month rule.

    Returns entity_id, risk, p_alive and expected_transactions (BG/NBD, fitted in
    ``time_unit`` on occasions up to ``as_of``, over the horizon), volume_at_stake
    (average monthly volume over the last ``active_months`` × horizon), and the feature
    contributions behind the reasons.
    """
    as_of = history.months[as_of_index] + pd.offsets.MonthEnd(0) if as_of is None else pd.Timestamp(as_of)
    kw = dict(horizon_months=horizon_months, active_months=active_months, min_active_months=min_active_months,
              churn_share=churn_share)
    current = churn_frame(history, [as_of_index], with_labels=False, **kw)
    features = feature_columns(current)
    X = current[features]
    entity_ids = current["entity_id"].to_numpy()
    bgnbd = fit_bgnbd(history, as_of, time_unit=time_unit)
    horizon = horizon_length(as_of, horizon_months, time_unit)
    scores = pd.DataFrame({"entity_id": entity_ids, "risk": np.nan, "p_alive": np.nan,
                           "expected_transactions": np.nan})
    if bgnbd is not None:
        rfm = rfm_at(history, as_of, time_unit=time_unit).reindex(entity_ids)
        scores["p_alive"] = bgnbd.p_alive(rfm)
        scores["expected_transactions"] = bgnbd.expected_transactions(rfm, horizon)
    if model == BGNBD and bgnbd is None:
        model = "rule_last_month"
    train = None
    if model in LEARNED + RULES:
        origins = training_origins(history, as_of_index, horizon_months=horizon_months,
                                   active_months=active_months, train_origins=train_origins)
        train = subsample_snapshots(churn_frame(history, origins, **kw), max_train_rows, seed) if origins else None
        if model in LEARNED and (train is None or train["churned"].nunique() < 2):
            model = "rule_last_month"
    if model == BGNBD:
        fitted = bgnbd
        scores["risk"] = bgnbd.prob_no_purchase(rfm, horizon)
        gaps = purchase_gaps(rfm, TIME_UNITS[time_unit])
        X = pd.concat([X, gaps.set_axis(X.index)], axis=1)
        contributions = pd.concat([rule_contributions(X), gap_contributions(gaps).set_axis(X.index)], axis=1)
        contributions = contributions.reindex(columns=X.columns, fill_value=0.0)
        # the silence in days says what months without volume would, more precisely
        contributions.loc[contributions["days_since_purchase"].to_numpy() > 0, "recency_months"] = 0.0
    elif model in RULES and (train is None or train["churned"].nunique() < 2):
        fitted = RuleScore(model.removeprefix("rule_"))
        scores["risk"] = special.expit(fitted.score_samples(X))
        contributions = pd.DataFrame(0.0, index=X.index, columns=features)
        contributions[fitted.kind == "last_month" and "last_to_12m" or "trend_3m"] = 1.0
    else:
        fitted = fit_model(make_model(model, seed), train, features)
        # fitted once here; scored by partition of entities on a cluster (crmlab.distributed)
        risk, contributions = map_rows(risk_and_reasons, X, fitted, train[features].median(),
                                       combine=_joined, min_rows=5000)
        scores["risk"] = risk
    window = history.volume[:, max(0, as_of_index - active_months + 1):as_of_index + 1].mean(axis=1)
    volume = pd.Series(window, index=history.entity_ids)
    scores["volume_at_stake"] = volume.reindex(entity_ids).to_numpy() * horizon_months
    contributions.index = entity_ids
    return ChurnScores(scores, contributions, X.set_axis(entity_ids), fitted, bgnbd, model, time_unit, horizon)


def risk_by_group(scores: pd.DataFrame, groups: pd.Series, *, alert_threshold: float = 0.3) -> pd.DataFrame:
    """Entities, alerts, mean risk and expected volume lost (risk × volume at stake) per group."""
    g = groups.reindex(scores["entity_id"]).astype("string").fillna("unknown").to_numpy()
    frame = scores.assign(group=g, alert=scores["risk"] >= alert_threshold,
                          expected_loss=scores["risk"] * scores["volume_at_stake"])
    out = frame.groupby("group").agg(entities=("entity_id", "size"), alerts=("alert", "sum"),
                                     mean_risk=("risk", "mean"), expected_loss=("expected_loss", "sum"))
    return out.sort_values("expected_loss", ascending=False).round(3)
